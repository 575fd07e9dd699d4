"""Websocket test helpers: a client that reads events by type, over Starlette's TestClient."""

import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.session.session import SMALL_SET
from app.web.main import create_app
from app.web.settings import Settings


class Conn:
    """One websocket: text events as dicts; binary map frames kept aside."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.binary: list[bytes] = []

    def send(self, cmd: dict[str, Any]) -> None:
        self.ws.send_text(json.dumps(cmd))

    def recv(self) -> dict[str, Any]:
        while True:
            m = self.ws.receive()
            if m.get("bytes") is not None:
                self.binary.append(m["bytes"])
                continue
            if m.get("text") is not None:
                event: dict[str, Any] = json.loads(m["text"])
                return event
            raise WebSocketDisconnect(m.get("code", 1000), m.get("reason"))

    def until(self, kind: str) -> dict[str, Any]:
        while True:
            e = self.recv()
            if e["type"] == kind:
                return e

    def collect(self, kind: str) -> list[dict[str, Any]]:
        """Events up to and including the next of type `kind`."""
        out = []
        while True:
            e = self.recv()
            out.append(e)
            if e["type"] == kind:
                return out

    def state(self) -> dict[str, Any]:
        """The current state, asked for in a way that changes nothing (pause when paused)."""
        self.send({"type": "pause"})
        return self.until("state")

    def load(self, preset: str | None = None, scenario: dict[str, Any] | None = None) -> dict[str, Any]:
        self.send({"type": "load", "preset": preset} if preset else {"type": "load", "scenario": scenario})
        return self.welcome()

    def welcome(self) -> dict[str, Any]:
        """Read a welcome (state, dataset, epoch, then outputs where they are sent); the state."""
        st = self.until("state")
        ds = self.until("dataset")
        self.until("epoch")
        if ds["extent"] is None or len(ds["train"]["x"]) <= SMALL_SET:
            self.until("outputs")
        return st


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as c:
        yield c


@pytest.fixture
def conn(client: TestClient) -> Iterator[Conn]:
    with client.websocket_connect("/ws") as ws:
        c = Conn(ws)
        c.welcome()
        yield c


@pytest.fixture(scope="module")
def log() -> Iterator[IO[str]]:
    """A file for a live server's output (uvicorn's logs), read by the module's tests."""
    with tempfile.TemporaryFile("w+") as f:
        yield f
