"""/ws: one connection, one member of a session's room, with its own outgoing queue and limits."""

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket
from starlette.websockets import WebSocketDisconnect

from app import scenario as sc
from app.protocol import ProtocolError, encode, parse_command
from app.session import work
from app.session.cursor import Cursor
from app.session.member import Member
from app.session.outbox import Outbox
from app.session.registry import Registry
from app.web import uploads, wire
from app.web.limits import TokenBucket
from app.web.security import check_origin

log = logging.getLogger("deltaflow.ws")
router = APIRouter()
LONG = frozenset({"step", "epoch", "play", "gradcheck", "slice"})  # what `pause` cancels while they wait
TRY_AGAIN_LATER = 1013


def error(code: str, message: str, request: str | None = None) -> dict[str, Any]:
    return ProtocolError(code, message, request).event()


async def send_loop(ws: WebSocket, box: Outbox) -> None:
    """Send what is queued back to back, then yield, so other connections get their turn."""
    proto = wire.protocol_of(ws)
    while True:
        msgs = await box.take()
        if not msgs:
            return
        box.sending = True  # the Flusher leaves this box to its task until these are written
        try:
            for m in msgs:
                await wire.send(ws, proto, m)
                if box.low_priority:
                    await asyncio.sleep(0)
        finally:
            box.sending = False
        await asyncio.sleep(0)


class Commands:
    """One connection's commands waiting to be carried out, in order."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue(size)
        self.waiting: Any = None  # taken from the queue, waiting for room or its turn on the session

    def cancel_long(self) -> list[str]:
        """Drop the waiting long commands (LONG); their types, in order."""
        cancelled: list[str] = []
        if self.waiting is not None and self.waiting.type in LONG:
            cancelled.append(self.waiting.type)
            self.waiting = None
        keep = []
        while not self.queue.empty():
            cmd = self.queue.get_nowait()
            if cmd.type in LONG:
                cancelled.append(cmd.type)
            else:
                keep.append(cmd)
        for cmd in keep:
            self.queue.put_nowait(cmd)
        return cancelled


async def command_loop(member: Member, commands: Commands, registry: Registry) -> None:
    """One command at a time, in order; waits while this client is behind on its events."""
    box = member.box
    while True:
        cmd = await commands.queue.get()
        commands.waiting = cmd
        await box.room()
        s = member.session
        if s is not None and cmd.type in LONG:
            while s.lock.locked():  # wait for its turn here, where a `pause` can still cancel it
                async with s.lock:
                    pass
        if commands.waiting is not cmd:
            continue  # a `pause` cancelled it meanwhile
        commands.waiting = None
        if s is not None:
            registry.used(s)
            if cmd.type in LONG and not s.lock.locked():
                s.interrupt = False  # a pause sent before this command was meant for an earlier one
        try:
            await member.handle(cmd)
        except ProtocolError as e:
            box.put_error(e.event())
        except Exception:
            log.exception("command failed")
            box.put_error(error("internal", "the server could not carry out this command", cmd.type))


def cancelled_error(types: list[str]) -> dict[str, Any]:
    """One `error` telling which waiting commands a `pause` cancelled."""
    listed = ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in Counter(types).items())
    return error("cancelled", f"pause cancelled {len(types)} waiting command(s): {listed}", "pause")


async def refuse(ws: WebSocket, code: str, message: str, close: int = TRY_AGAIN_LATER) -> None:
    """Tell a connection why it cannot go on, then close it (1013: try again later)."""
    await ws.send_text(encode(error(code, message)).decode())
    await ws.close(close, message[:120])  # a close reason is at most 123 bytes


def owners(s: Any) -> int:
    """Connections that drive session `s` (a room's viewers have their own limit)."""
    return sum(1 for role in s.subscribers.values() if role != "viewer")


@router.websocket("/ws")
async def websocket(
    ws: WebSocket,
    session: str | None = None,
    room: str | None = None,
    preset: str | None = None,
    ref: Annotated[str | None, Query(alias="s")] = None,
    maps: str | None = None,
) -> None:
    """`session` reattaches to a session; `room` follows a room as a viewer. A new session (or
    one for an unknown `session`) starts on `preset`, or on the stored scenario `s`. `maps=page`:
    the client draws train frames' maps from their weights, so the server sends none with them."""
    if not await check_origin(ws):  # cross-site: refused before any session is touched
        return
    settings = ws.app.state.settings
    registry: Registry = ws.app.state.registry
    await ws.accept()
    address = ws.client.host if ws.client else "unknown"
    if not ws.app.state.addresses.allow(address):
        per_minute = f"{settings.connect_per_minute:g}"
        await refuse(ws, "rate_limited", f"too many new connections from your address (at most {per_minute} a minute)")
        return
    box = Outbox(settings.outbox_limit, int(settings.outbox_mb * 2**20))
    box.page_maps = maps == "page"
    box.direct = wire.writer(wire.protocol_of(ws))
    member = Member(registry, box)
    if room is not None:
        try:
            s = await registry.rooms.find(room)
        except ProtocolError as e:  # with Redis: the directory cannot be reached
            await refuse(ws, e.code, e.message)
            return
        if s is None:
            await refuse(ws, "unknown_room", f"no open room {room!r}: check the code", 1008)
            return
        try:
            member.join(s, "viewer")
        except ProtocolError as e:
            await refuse(ws, e.code, e.message)
            return
    else:
        remote = registry.rooms.remote
        try:
            s = (await (remote.find_session(session) if remote else registry.find(session))) if session else None
        except ProtocolError as e:
            await refuse(ws, e.code, e.message)
            return
        unknown = session is not None and s is None
        start, problem = (None, None) if s is not None else await first_scenario(ws.app, preset, ref)
        if s is not None and owners(s) >= settings.connections_per_session:
            limit = settings.connections_per_session
            await refuse(ws, "too_many_connections", f"this session already has {limit} connections, the most it may")
            return
        if s is None:
            try:
                s = registry.create(start)
            except ProtocolError as e:  # server_full: memory over its budget
                await refuse(ws, e.code, e.message)
                return
            if s is None:
                await refuse(ws, "busy", "the server is full: every session is in use; try again later")
                return
        member.join(s)
        if unknown:
            what = "this is a new session on the scenario the page asked for" if start else "this is a new session"
            box.put_error(error("unknown_session", f"that session is unknown or expired; {what}"))
        if problem:
            box.put_error(problem)
    if maps not in (None, "page", "server"):
        what = f"maps: must be 'page' or 'server', not {maps[:40]!r}; the server sends the maps"
        box.put_error(error("invalid_command", what))
    commands = Commands(settings.command_queue)
    sender = asyncio.create_task(send_loop(ws, box))
    tasks = [sender, asyncio.create_task(command_loop(member, commands, registry))]
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
        last = member.session
        member.leave()
        if last is not None:
            registry.release(last)


async def first_scenario(app: Any, preset: str | None, ref: str | None) -> tuple[Any, dict[str, Any] | None]:
    """The document a new session starts on (None: the default preset), and an `error` event
    when the one asked for cannot be had."""
    if ref:
        data = uploads.store_of(app).get(ref)
        if data is None:
            return None, error(
                "unknown_ref", f"s: no stored scenario {ref!r}; this is a new session on the default preset"
            )
        # checked when it was uploaded; a run of 10,000 examples is built off the loop
        return await work.in_thread(Cursor, data, app.state.registry.options), None
    if preset:
        try:
            return sc.preset(preset), None
        except KeyError:
            names = ", ".join(sc.preset_names())
            return None, error("unknown_preset", f"preset: no preset {preset!r}; one of {names}")
    return None, None


async def receive_loop(ws: WebSocket, member: Member, commands: Commands, settings: Any) -> None:
    box = member.box
    bucket = TokenBucket(settings.message_rate, settings.message_burst)
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            text, data = msg.get("text"), msg.get("bytes")
            if len(text if text is not None else data or b"") > settings.max_message_bytes:
                await ws.close(1009, "message too big")
                return
            if not bucket.take():
                box.put_error(error("rate_limited", rate_text(settings)))
                continue
            if text is None:
                box.put_error(error("binary_not_allowed", "commands are JSON text messages, not binary ones"))
                continue
            try:
                cmd = parse_command(text)
                if cmd.type == "load" and cmd.ref is not None:  # the session gets the stored scenario itself
                    cmd = uploads.resolve(ws.app, cmd)
            except ProtocolError as e:
                box.put_error(e.event())
                continue
            except Exception:  # a message no rule foresaw: refused in words, and the connection goes on
                log.exception("could not read a command")
                box.put_error(error("invalid_json", "the server could not read this message as a command"))
                continue
            s = member.session
            if cmd.type == "pause":
                if s is not None and s.lock.locked():
                    s.interrupt = True  # stop a long step/epoch at its next slice
                cancelled = commands.cancel_long()
                if cancelled:
                    box.put_error(cancelled_error(cancelled), len(cancelled))
            try:
                commands.queue.put_nowait(cmd)
            except asyncio.QueueFull:
                box.put_error(error("busy", f"too many commands waiting (at most {settings.command_queue})", cmd.type))


def rate_text(settings: Any) -> str:
    return (
        f"too many messages: at most {settings.message_rate:g} a second"
        f" (bursts of {settings.message_burst}); this one was not read"
    )
