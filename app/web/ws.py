"""/ws: one connection, one subscriber of a session, with its own outgoing queue."""

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app.protocol import ProtocolError, encode, parse_command
from app.session.outbox import Message, Outbox
from app.session.session import Session
from app.web.security import check_origin

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
        await asyncio.sleep(0)


async def command_loop(s: Session, box: Outbox, commands: "asyncio.Queue[object]") -> None:
    """One command at a time, in order; waits while this client is behind on its events."""
    while True:
        cmd = await commands.get()
        await box.room()
        async with s.lock:
            try:
                await s.handle(cmd)
            except ProtocolError as e:
                box.put(Message(encode(e.event())))
            except Exception:
                log.exception("command failed")
                box.put(error("internal", "the server could not carry out this command", getattr(cmd, "type", None)))


@router.websocket("/ws")
async def websocket(ws: WebSocket, session: str | None = None) -> None:
    if not await check_origin(ws):  # cross-site: refused before any session is touched
        return
    settings = ws.app.state.settings
    registry = ws.app.state.registry
    await ws.accept()
    s = registry.get(session) if session else None
    unknown = session is not None and s is None
    if s is None:
        s = registry.create()
        if s is None:
            await ws.send_text(
                encode(ProtocolError("busy", "the server has no room for another session").event()).decode()
            )
            await ws.close(1013)
            return
    box = Outbox(settings.outbox_limit)
    s.attach(box)
    if unknown:
        box.put(error("unknown_session", f"session {session!r} is unknown or expired; this is a new session"))
    commands: asyncio.Queue[object] = asyncio.Queue(settings.command_queue)
    tasks = [asyncio.create_task(send_loop(ws, box)), asyncio.create_task(command_loop(s, box, commands))]
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            data = msg.get("text")
            if data is None:
                data = msg.get("bytes") or b""
            if len(data) > settings.max_message_bytes:
                await ws.close(1009, "message too big")
                break
            try:
                cmd = parse_command(data)
            except ProtocolError as e:
                box.put(Message(encode(e.event())))
                continue
            if cmd.type == "pause" and s.lock.locked():
                s.interrupt = True  # stop a long step/epoch at its next slice
            try:
                commands.put_nowait(cmd)
            except asyncio.QueueFull:
                box.put(error("busy", f"too many commands waiting (at most {settings.command_queue})", cmd.type))
    except WebSocketDisconnect:
        pass
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        s.detach(box)
