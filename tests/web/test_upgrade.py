"""The upgrade hook caps a websocket's kernel send buffer (app/web/upgrade.py)."""

import asyncio
import socket
from typing import Any

from app.web import upgrade


class Transport(asyncio.BaseTransport):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock, self.fed = sock, b""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default

    def get_protocol(self) -> Any:
        outer = self

        class Ws(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                outer.fed += data

        return Ws()

    def is_closing(self) -> bool:
        return False


def test_the_send_buffer_is_capped_and_the_rest_handed_over() -> None:
    a, b = socket.socketpair()
    with a, b:
        before = a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        t = Transport(a)
        upgrade._hand_over(t, b"rest")
        after = a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    assert after <= 2 * upgrade.SEND_BUFFER < before  # Linux reports twice what was set
    assert t.fed == b"rest"
