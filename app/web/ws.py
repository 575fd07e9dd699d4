"""/ws: one connection, one member of a session's room, with its own outgoing queue."""

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app.protocol import ProtocolError, encode, parse_command
from app.session.member import Member
from app.session.outbox import Message, Outbox
from app.web import uploads

log = logging.getLogger("deltaflow.ws")
router = APIRouter()


def error(code: str, message: str, request: str | None = None) -> Message:
    return Message(encode(ProtocolError(code, message, request).event()))


async def send_loop(ws: WebSocket, box: Outbox) -> None:
    """Send what is queued back to back, then yield, so other connections get their turn."""
    while True:
        msgs = await box.take()
        if not msgs:
            return
        for m in msgs:
            if m.binary:
                await ws.send_bytes(m.data)
            else:
                await ws.send_text(m.data.decode())
            if box.low_priority:
                await asyncio.sleep(0)
        await asyncio.sleep(0)


async def command_loop(member: Member, commands: "asyncio.Queue[object]") -> None:
    """One command at a time, in order; waits while this client is behind on its events."""
    box = member.box
    while True:
        cmd = await commands.get()
        await box.room()
        try:
            await member.handle(cmd)
        except ProtocolError as e:
            box.put(Message(encode(e.event())))
        except Exception:
            log.exception("command failed")
            box.put(error("internal", "the server could not carry out this command", getattr(cmd, "type", None)))


async def refuse(ws: WebSocket, code: str, message: str, close: int) -> None:
    await ws.send_text(encode(ProtocolError(code, message).event()).decode())
    await ws.close(close)


@router.websocket("/ws")
async def websocket(ws: WebSocket, session: str | None = None, room: str | None = None) -> None:
    settings = ws.app.state.settings
    registry = ws.app.state.registry
    await ws.accept()
    box = Outbox(settings.outbox_limit)
    member = Member(registry, box)
    if room is not None:
        s = registry.rooms.get(room)
        if s is None:
            await refuse(ws, "unknown_room", f"no open room {room!r}: check the code", 1008)
            return
        try:
            member.join(s, "viewer")
        except ProtocolError as e:
            await refuse(ws, e.code, e.message, 1013)
            return
    else:
        s = registry.get(session) if session else None
        unknown = session is not None and s is None
        if s is None:
            s = registry.create()
            if s is None:
                await refuse(ws, "busy", "the server has no room for another session", 1013)
                return
        member.join(s)
        if unknown:
            box.put(error("unknown_session", f"session {session!r} is unknown or expired; this is a new session"))
    commands: asyncio.Queue[object] = asyncio.Queue(settings.command_queue)
    sender = asyncio.create_task(send_loop(ws, box))
    tasks = [sender, asyncio.create_task(command_loop(member, commands))]
    receiver = asyncio.create_task(receive_loop(ws, member, commands, settings))
    try:
        # the server ends a connection by closing its outbox (a room that closed); the client by leaving
        await asyncio.wait([receiver, sender], return_when=asyncio.FIRST_COMPLETED)
        if sender.done() and not receiver.done():
            with contextlib.suppress(Exception):
                await ws.close(1001)
    finally:
        for t in [*tasks, receiver]:
            t.cancel()
        for t in [*tasks, receiver]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        member.leave()


async def receive_loop(ws: WebSocket, member: Member, commands: "asyncio.Queue[object]", settings: object) -> None:
    box = member.box
    max_bytes = settings.max_message_bytes  # type: ignore[attr-defined]
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            data = msg.get("text")
            if data is None:
                data = msg.get("bytes") or b""
            if len(data) > max_bytes:
                await ws.close(1009, "message too big")
                return
            try:
                cmd = parse_command(data)
                if cmd.type == "load" and cmd.ref is not None:  # the session gets the stored scenario itself
                    cmd = uploads.resolve(ws.app, cmd)
            except ProtocolError as e:
                box.put(Message(encode(e.event())))
                continue
            s = member.session
            if cmd.type == "pause" and s is not None and s.lock.locked():
                s.interrupt = True  # stop a long step/epoch at its next slice
            try:
                commands.put_nowait(cmd)
            except asyncio.QueueFull:
                box.put(error("busy", f"too many commands waiting (at most {settings.command_queue})", cmd.type))  # type: ignore[attr-defined]
