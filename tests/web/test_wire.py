"""Frames written straight to the transport (app/web/wire.py): byte for byte what the websocket
library itself would send, and what a client receives, through a real uvicorn server."""

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.frames import Frame, Opcode

from app.session.outbox import Message
from app.web import wire
from tests.live import in_thread

SIZES = [0, 1, 125, 126, 65_535, 65_536, 200_000]  # each length encoding, both sides of its limits


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("n", SIZES)
def test_a_messages_frame_is_the_libraries_own(n: int, binary: bool) -> None:
    data = bytes((k * 7 + 1) % 128 for k in range(n))  # ASCII: valid text too
    opcode = Opcode.BINARY if binary else Opcode.TEXT
    expected = Frame(opcode, data).serialize(mask=False)
    assert Message(data, binary).frame == expected


async def _echo_sizes(ws: WebSocket) -> None:
    """Tells whether frames go straight to the transport, then sends every size as text and binary."""
    await ws.accept()
    proto = wire.protocol_of(ws)
    await wire.send(ws, proto, Message(b"direct" if proto is not None else b"asgi"))
    for n in SIZES:
        text = ("x" * n).encode()
        await wire.send(ws, proto, Message(text))
        await wire.send(ws, proto, Message(bytes(range(256)) * (n // 256) + bytes(n % 256), True))
    await ws.receive()  # the client's goodbye


WRITTEN: list[bool] = []  # what the /direct route's writer answered, in order


async def _direct(ws: WebSocket) -> None:
    """Writes three messages with the idle outbox's writer, then one after the client left."""
    await ws.accept()
    write = wire.writer(wire.protocol_of(ws))
    if write is None:
        await ws.send_text("no writer")
    else:
        WRITTEN.extend(write(Message(f"m{k}".encode(), binary=k == 1)) for k in range(3))
    await ws.receive()  # the client's goodbye
    with contextlib.suppress(Exception):
        await ws.receive()  # its close
    if write is not None:
        WRITTEN.append(write(Message(b"after")))


@pytest.fixture(scope="module")
def live() -> Iterator[int]:
    app = Starlette(routes=[WebSocketRoute("/ws", _echo_sizes), WebSocketRoute("/direct", _direct)])
    with in_thread(app, ws_per_message_deflate=True) as port:
        yield port


async def _receive_all(port: int, compression: Any) -> tuple[str, list[Any]]:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", compression=compression, max_size=None) as ws:
        how = await ws.recv()
        got = [await ws.recv() for _ in range(2 * len(SIZES))]
        await ws.send("bye")
    return str(how), got


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_a_client_receives_every_message_whole(live: int, compression: Any) -> None:
    how, got = asyncio.run(_receive_all(live, compression))
    # a compressed connection needs its frames deflated: the library's path
    assert how == ("direct" if compression is None else "asgi")
    for k, n in enumerate(SIZES):
        assert got[2 * k] == "x" * n
        assert got[2 * k + 1] == bytes(range(256)) * (n // 256) + bytes(n % 256)


async def _direct_client(port: int, compression: Any) -> list[Any]:
    async with websockets.connect(f"ws://127.0.0.1:{port}/direct", compression=compression) as ws:
        got = [await ws.recv() for _ in range(1 if compression else 3)]
        await ws.send("bye")
    await asyncio.sleep(0.3)  # the server's handler sees the close
    return got


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_the_writer_writes_frames_while_open_and_refuses_after(live: int, compression: Any) -> None:
    """Outbox.direct: frames written at once arrive whole and in order; a closed connection gets
    none, and a compressed one has no writer (its outbox queues for the ASGI path)."""
    WRITTEN.clear()
    got = asyncio.run(_direct_client(live, compression))
    if compression:
        assert got == ["no writer"] and WRITTEN == []
    else:
        assert got == ["m0", b"m1", "m2"]
        assert WRITTEN == [True, True, True, False]
