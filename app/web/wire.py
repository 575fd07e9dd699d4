"""Writing a message's websocket frame straight to the connection's transport.

A room of 300 viewers sends each frame 300 times. Through the ASGI interface every send decodes
the bytes to text, and the websocket library encodes and frames them again: three copies and
some 20 µs of Python per viewer. Every message is framed once instead (Message.frame) and the
same bytes are written to every connection, with the protocol's own flow control. The server
runs with WS_PROTOCOL, which names itself in the connection's ASGI scope (an extension) so the
app can find it. When there is no such protocol (another server, a test client) or the
connection is compressed or closing, the ASGI path is used.
"""

from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from app.session.outbox import Message

EXTENSION = "deltaflow.frames"  # the scope's extension that holds the protocol


class DirectFrames(WebSocketsSansIOProtocol):
    """Uvicorn's sans-I/O websocket protocol, putting itself in the scope it gives the app."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:  # the app runs on the loop's next turn, after this
            self.scope["extensions"][EXTENSION] = {"protocol": self}

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if hasattr(self, "scope"):  # the scope no longer keeps the protocol, nor it the scope
            self.scope["extensions"].pop(EXTENSION, None)


WS_PROTOCOL = DirectFrames


def protocol_of(ws: WebSocket) -> Any:
    """The protocol behind `ws` when frames may be written to it directly, else None. Not when
    an extension was negotiated: a compressed connection needs its frames deflated."""
    proto = (ws.scope.get("extensions") or {}).get(EXTENSION, {}).get("protocol")
    if not isinstance(proto, WebSocketsSansIOProtocol) or proto.conn.extensions:
        return None
    return proto


def open_for_frames(proto: Any) -> bool:
    """Open, and not closing: after a failed write (a reset) the transport is closing at once,
    but the protocol hears of it a turn later; what is written meanwhile would vanish."""
    return (
        not proto.disconnected
        and not proto.close_sent
        and proto.conn.state is State.OPEN
        and not proto.transport.is_closing()
    )


def writer(proto: Any) -> Callable[[Message], bool] | None:
    """Outbox.direct: writes a message's frame when the transport takes it without waiting, and
    says whether it did. The loop's Flusher (app/session/outbox.py) writes through it, which
    saves a task switch per message and connection, most of a room viewer's cost. None without
    a protocol to write to."""
    if proto is None:
        return None

    def write(m: Message) -> bool:
        if not proto.writable.is_set() or not open_for_frames(proto):
            return False
        proto.transport.write(m.frame)
        return True

    return write


async def send(ws: WebSocket, proto: Any, m: Message) -> None:
    """Send one message: its frame to the transport when the connection is open, else by ASGI
    (which raises what a closed connection raises)."""
    if proto is not None:
        await proto.writable.wait()  # paused while the transport's buffer is over its high mark
        if open_for_frames(proto):
            proto.transport.write(m.frame)
            return
    if m.binary:
        await ws.send_bytes(m.data)
    else:
        await ws.send_text(m.data.decode())
