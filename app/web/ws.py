"""/ws: one connection, one subscriber of a session, with its own outgoing queue and limits."""

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app.protocol import ProtocolError, encode, parse_command
from app.session.outbox import Outbox
from app.session.registry import Registry
from app.session.session import Session
from app.web.limits import TokenBucket

log = logging.getLogger("deltaflow.ws")
router = APIRouter()
LONG = frozenset({"step", "epoch", "play", "gradcheck", "slice"})  # what `pause` cancels while they wait


def error(code: str, message: str, request: str | None = None) -> dict[str, Any]:
    return ProtocolError(code, message, request).event()


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


class Commands:
    """One connection's commands waiting to be carried out, in order."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue(size)
        self.waiting: Any = None  # taken from the queue, waiting for room or the session's lock

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


async def command_loop(s: Session, box: Outbox, commands: Commands, registry: Registry) -> None:
    """One command at a time, in order; waits while this client is behind on its events."""
    while True:
        cmd = await commands.queue.get()
        commands.waiting = cmd
        await box.room()
        async with s.lock:
            if commands.waiting is not cmd:
                continue  # a `pause` cancelled it meanwhile
            commands.waiting = None
            s.interrupt = False  # a pause sent before this command was meant for an earlier one
            registry.used(s)
            try:
                await s.handle(cmd)
            except ProtocolError as e:
                box.put_error(e.event())
            except Exception:
                log.exception("command failed")
                box.put_error(error("internal", "the server could not carry out this command", cmd.type))


def cancelled_error(types: list[str]) -> dict[str, Any]:
    """One `error` telling which waiting commands a `pause` cancelled."""
    listed = ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in Counter(types).items())
    return error("cancelled", f"pause cancelled {len(types)} waiting command(s): {listed}", "pause")


async def refuse(ws: WebSocket, code: str, message: str) -> None:
    """Tell a connection why it cannot go on, then close it with 1013 (try again later)."""
    await ws.send_text(encode(error(code, message)).decode())
    await ws.close(1013, message[:120])  # a close reason is at most 123 bytes


@router.websocket("/ws")
async def websocket(ws: WebSocket, session: str | None = None) -> None:
    settings = ws.app.state.settings
    registry: Registry = ws.app.state.registry
    await ws.accept()
    address = ws.client.host if ws.client else "unknown"
    if not ws.app.state.addresses.allow(address):
        per_minute = f"{settings.connect_per_minute:g}"
        await refuse(ws, "rate_limited", f"too many new connections from your address (at most {per_minute} a minute)")
        return
    s = registry.get(session) if session else None
    unknown = session is not None and s is None
    if s is not None and len(s.subscribers) >= settings.connections_per_session:
        limit = settings.connections_per_session
        await refuse(ws, "too_many_connections", f"this session already has {limit} connections, the most it may")
        return
    if s is None:
        s = registry.create()
        if s is None:
            await refuse(ws, "busy", "the server is full: every session is in use; try again later")
            return
    box = Outbox(settings.outbox_limit, int(settings.outbox_mb * 2**20))
    s.attach(box)
    if unknown:
        box.put_error(error("unknown_session", "that session is unknown or expired; this is a new session"))
    commands = Commands(settings.command_queue)
    bucket = TokenBucket(settings.message_rate, settings.message_burst)
    tasks = [asyncio.create_task(send_loop(ws, box)), asyncio.create_task(command_loop(s, box, commands, registry))]
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            text, data = msg.get("text"), msg.get("bytes")
            if len(text if text is not None else data or b"") > settings.max_message_bytes:
                await ws.close(1009, "message too big")
                break
            if not bucket.take():
                box.put_error(error("rate_limited", rate_text(settings)))
                continue
            if text is None:
                box.put_error(error("binary_not_allowed", "commands are JSON text messages, not binary ones"))
                continue
            try:
                cmd = parse_command(text)
            except ProtocolError as e:
                box.put_error(e.event())
                continue
            if cmd.type == "pause":
                if s.lock.locked():
                    s.interrupt = True  # stop a long step/epoch at its next slice
                cancelled = commands.cancel_long()
                if cancelled:
                    box.put_error(cancelled_error(cancelled), len(cancelled))
            try:
                commands.queue.put_nowait(cmd)
            except asyncio.QueueFull:
                box.put_error(error("busy", f"too many commands waiting (at most {settings.command_queue})", cmd.type))
    except WebSocketDisconnect:
        pass
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        s.detach(box)
        registry.release(s)


def rate_text(settings: Any) -> str:
    return (
        f"too many messages: at most {settings.message_rate:g} a second"
        f" (bursts of {settings.message_burst}); this one was not read"
    )
