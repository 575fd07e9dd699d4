"""Uvicorn's HTTP protocols, keeping what a client sent right after its websocket upgrade,
and giving each websocket a small kernel send buffer.

A scripted client may send its first command in the same TCP packet as the HTTP upgrade
request. Uvicorn's HTTP protocols hand the websocket protocol only the request's headers,
re-serialized, so those bytes are lost and the command is never answered. These subclasses
pass the rest of that packet on once the websocket protocol has taken over.

Linux grows a socket's send buffer up to 4 MB. A client that never reads would then absorb
seconds of train frames before its outbox sees it (app/session/play.py pauses a run whose
frames nobody takes), and its session would train unseen meanwhile. SEND_BUFFER still allows
about 2.6 MB/s at a 50 ms round trip, many times a stream's rate (docs/performance.md).
"""

import asyncio
import socket
from typing import Any

try:
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # uvicorn without its [standard] extra
    httptools = None  # type: ignore[assignment]
from uvicorn.protocols.http.h11_impl import H11Protocol

SEND_BUFFER = 64 * 1024  # bytes; the kernel doubles it for its own bookkeeping


def _hand_over(transport: asyncio.BaseTransport, rest: bytes) -> None:
    """Cap the socket's send buffer, then feed `rest` to the protocol that now owns
    `transport` (the websocket one)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        except OSError:  # a closed socket; the upgrade fails on its own
            pass
    ws = transport.get_protocol()
    if rest and isinstance(ws, asyncio.Protocol) and not transport.is_closing():
        ws.data_received(rest)


class H11KeepingFrames(H11Protocol):
    def handle_websocket_upgrade(self, event: Any) -> None:
        super().handle_websocket_upgrade(event)
        _hand_over(self.transport, bytes(self.conn.trailing_data[0]))


if httptools is not None:

    class _Parser:
        """httptools' parser, remembering the bytes after an upgrade request's headers."""

        def __init__(self, parser: Any) -> None:
            self.parser, self.rest = parser, b""

        def feed_data(self, data: bytes) -> None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade as e:  # its argument: where the request ended
                self.rest = bytes(data[e.args[0] :])
                raise

        def __getattr__(self, name: str) -> Any:
            return getattr(self.parser, name)

    class HttpToolsKeepingFrames(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.parser = _Parser(self.parser)  # type: ignore[assignment]

        def handle_websocket_upgrade(self) -> None:
            super().handle_websocket_upgrade()
            _hand_over(self.transport, self.parser.rest)  # type: ignore[attr-defined]

    HTTP_PROTOCOL: type[asyncio.Protocol] = HttpToolsKeepingFrames
else:
    HTTP_PROTOCOL = H11KeepingFrames
