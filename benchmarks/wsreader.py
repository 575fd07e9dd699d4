"""A websocket that only reads, for hundreds of benchmark viewers in one process.

A viewer of `benchmarks/rooms.py` receives 30 to 60 messages a second, and 150 viewers share a
process and a core. The websockets library's client wakes a task and a future for every message,
so at 300 viewers the clients' core was the bottleneck and the lag it measured was partly its own.
This reader parses the server's frames in the transport's callback (RFC 6455 §5.2: a server's
frames are not masked), with one clock reading per read, and answers pings; it sends nothing else.
Measured with 60 viewers in 2 processes: the clients took 30% of their core with the library,
15% with this reader on asyncio's loop and 5% on uvloop's, which the benchmark uses when it can.
"""

import asyncio
import base64
import os
import time
from collections.abc import Callable
from urllib.parse import urlsplit

# (opcode, payload, arrival time from time.monotonic()) for each whole message
OnMessage = Callable[[int, bytes, float], None]
TEXT, BINARY, CLOSE, PING = 1, 2, 8, 9


class Reader(asyncio.Protocol):
    """One read-only websocket; `opened` resolves after the 101 answer, `closed` at the end."""

    def __init__(self, request: bytes, on_message: OnMessage) -> None:
        self.request, self.on_message = request, on_message
        self.buf = bytearray()
        self.open = False
        self.parts: list[bytes] = []  # a fragmented message so far
        self.op = 0
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during the handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.open:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buf[: self.buf.find(b"\r\n")])
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode("latin-1")))
                assert self.transport is not None
                self.transport.close()
                return
            del self.buf[: end + 4]
            self.open = True
            self.opened.set_result(None)
        self.frames(time.monotonic())

    def frames(self, now: float) -> None:
        buf, i, size = self.buf, 0, len(self.buf)
        while size - i >= 2:
            b0, n = buf[i], buf[i + 1] & 0x7F
            h = 2
            if n == 126:
                if size - i < 4:
                    break
                n, h = int.from_bytes(buf[i + 2 : i + 4], "big"), 4
            elif n == 127:
                if size - i < 10:
                    break
                n, h = int.from_bytes(buf[i + 2 : i + 10], "big"), 10
            if size - i < h + n:
                break
            payload = bytes(buf[i + h : i + h + n])
            i += h + n
            self.frame(b0 & 0x80, b0 & 0x0F, payload, now)
        del buf[:i]

    def frame(self, fin: int, op: int, payload: bytes, now: float) -> None:
        if op == PING:
            self.send(0xA, payload)
        elif op == CLOSE:
            if self.transport is not None:
                self.transport.close()
        elif op in (TEXT, BINARY, 0):
            if op:
                self.op, self.parts = op, []
            self.parts.append(payload)
            if fin:
                self.on_message(self.op, b"".join(self.parts), now)

    def send(self, op: int, payload: bytes) -> None:
        """A control frame, masked as a client's must be (RFC 6455 §5.3)."""
        mask = os.urandom(4)
        body = bytes(b ^ mask[k % 4] for k, b in enumerate(payload))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(bytes([0x80 | op, 0x80 | len(payload)]) + mask + body)

    def close(self) -> None:
        self.send(CLOSE, (1000).to_bytes(2, "big"))
        if self.transport is not None:
            self.transport.close()


async def open_reader(url: str, on_message: OnMessage, timeout: float = 30) -> Reader:
    """A reader connected to a `ws://` url, after the server's 101 answer."""
    u = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    path = u.path + (f"?{u.query}" if u.query else "")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    _, reader = await loop.create_connection(lambda: Reader(request, on_message), u.hostname, u.port)
    await asyncio.wait_for(reader.opened, timeout)
    return reader
