"""The benchmarks' read-only websocket parses what a real websocket server sends."""

import asyncio

import pytest
from websockets.asyncio.server import serve

from benchmarks.wsreader import BINARY, TEXT, open_reader

# every length encoding of RFC 6455 §5.2: 7 bits, 16 bits and 64 bits
SENT: list[str | bytes] = ["x" * 10, b"DFM1" + bytes(200), "é" * 40_000, bytes(range(256)) * 300]


async def talk() -> tuple[list[tuple[int, bytes]], bool]:
    got: list[tuple[int, bytes]] = []
    pong = asyncio.Event()

    async def handler(ws):  # type: ignore[no-untyped-def]
        for m in SENT:
            await ws.send(m)
        await ws.send(["fragm", "ented"])  # one message in three frames
        waiter = await ws.ping(b"ok")
        await waiter
        pong.set()
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        reader = await open_reader(f"ws://127.0.0.1:{port}/ws?room=ABC", lambda op, m, t: got.append((op, m)))
        await asyncio.wait_for(pong.wait(), 10)
        reader.close()
        await asyncio.wait_for(reader.closed, 10)
    return got, pong.is_set()


@pytest.mark.parametrize("run", ["asyncio", "uvloop"])
def test_reader_receives_every_message_whole_and_answers_pings(run: str) -> None:
    """The benchmark's clients run on uvloop when it is installed, whose transports differ."""
    runner = pytest.importorskip(run).run
    got, ponged = runner(talk())
    want = [(TEXT, m.encode()) if isinstance(m, str) else (BINARY, m) for m in SENT]
    assert got == [*want, (TEXT, b"fragmented")]
    assert ponged


def test_reader_reports_a_refused_handshake() -> None:
    async def refuse() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            with pytest.raises(ConnectionError, match="403"):
                await open_reader(f"ws://127.0.0.1:{port}/ws", lambda *a: None)

    asyncio.run(refuse())
