"""A real server killed with SIGKILL or stopped with SIGTERM brings its sessions back, at the
weights of the trace; a damaged database never stops it; memory over its budget is refused."""

import asyncio
import json
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app import cli
from app import scenario as sc
from app.web.main import create_app
from app.web.settings import Settings
from tests.live import server
from tests.web.conftest import Conn


def ws_url(base: str, session: str | None = None) -> str:
    return base.replace("http", "ws") + "/ws" + (f"?session={session}" if session else "")


async def until(ws: Any, kind: str, timeout: float = 20.0, **match: Any) -> dict[str, Any]:
    """The next text event of type `kind` (with the given fields)."""
    while True:
        msg = await asyncio.wait_for(ws.recv(), timeout)
        if isinstance(msg, str):
            e: dict[str, Any] = json.loads(msg)
            if e["type"] == kind and all(e.get(k) == v for k, v in match.items()):
                return e


def traced(doc: dict[str, Any], step: int) -> tuple[list[Any], list[Any]]:
    """Weights and biases after step `step`, from `deltaflow trace`'s update events."""
    if step == 0:
        net = sc.build(sc.parse(doc)).trainer.net
        return [w.tolist() for w in net.w], [b.tolist() for b in net.b]
    ws, bs = {}, {}
    for e in cli.trace(doc, steps=step):
        if e["type"] == "update" and e["step"] == step:
            ws[e["layer"]], bs[e["layer"]] = e["weights"].tolist(), e["biases"].tolist()
    return [ws[k] for k in sorted(ws)], [bs[k] for k in sorted(bs)]


async def stepped_and_playing(base: str) -> tuple[str, str, int]:
    """Session A stepped 50 times, then left alone; session B training flat out. Returns their
    ids and the step B had reached at least 1.5 s before this returns."""
    async with websockets.connect(ws_url(base), max_size=None) as a, websockets.connect(ws_url(base)) as b:
        sid_a = (await until(a, "state"))["session"]
        sid_b = (await until(b, "state"))["session"]
        await a.send(json.dumps({"type": "step", "count": 50}))
        await until(a, "state", step=50)
        await b.send(json.dumps({"type": "play", "mode": "train", "fps": 30}))
        end = time.monotonic() + 1.0
        reached = 0
        while time.monotonic() < end:
            reached = max(reached, (await until(b, "frame"))["step"])
        await asyncio.sleep(1.5)  # both keep their connections (and B trains) until the kill
        return sid_a, sid_b, reached


async def welcome(base: str, sid: str) -> dict[str, Any]:
    async with websockets.connect(ws_url(base, sid), max_size=None) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert first["type"] == "state", first  # no unknown_session error before it
        return first


def test_sessions_come_back_after_sigkill_at_the_traced_weights(tmp_path: Path) -> None:
    env = {"DELTAFLOW_DB": str(tmp_path / "deltaflow.db")}
    with server(env=env) as srv:
        sid_a, sid_b, reached = asyncio.run(stepped_and_playing(srv.url))
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
    with server(env=env) as srv:
        a = asyncio.run(welcome(srv.url, sid_a))
        b = asyncio.run(welcome(srv.url, sid_b))
    doc = sc.preset(Settings().default_preset)
    assert a["session"] == sid_a and a["step"] == 50  # it had been saved within the second
    assert (a["weights"], a["biases"]) == traced(doc, 50)
    assert b["session"] == sid_b and b["step"] >= reached > 0 and b["playing"] is None
    assert (b["weights"], b["biases"]) == traced(doc, b["step"])  # never mid-step
    assert b["paused_reason"]["kind"] == "restored" and b["paused_reason"]["step"] == b["step"]


async def step_then(base: str, first: int, then: int) -> str:
    async with websockets.connect(ws_url(base)) as ws:
        sid: str = (await until(ws, "state"))["session"]
        await ws.send(json.dumps({"type": "step", "count": first}))
        await until(ws, "state", step=first)
        await asyncio.sleep(0.5)  # its first save
        await ws.send(json.dumps({"type": "step", "count": then}))
        await until(ws, "state", step=first + then)
        return sid


def test_sigterm_writes_every_session_before_exit(tmp_path: Path) -> None:
    # saves at most once an hour: only the shutdown can have written the last steps
    env = {"DELTAFLOW_DB": str(tmp_path / "deltaflow.db"), "DELTAFLOW_SAVE_SECONDS": "3600"}
    with server(env=env) as srv:
        sid = asyncio.run(step_then(srv.url, 5, 7))
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(20)  # uvicorn shuts down gracefully, then exits by the signal it caught
    with server(env=env) as srv:
        st = asyncio.run(welcome(srv.url, sid))
    assert st["step"] == 12
    assert (st["weights"], st["biases"]) == traced(sc.preset(Settings().default_preset), 12)


async def stalled(base: str) -> tuple[str, Any]:
    """A client that steps, sets its run training, and stops reading: its open connection."""
    ws = await websockets.connect(ws_url(base), max_size=None, max_queue=4)
    sid: str = (await until(ws, "state"))["session"]
    await ws.send(json.dumps({"type": "step", "count": 4}))
    await until(ws, "state", step=4)
    await ws.send(json.dumps({"type": "play", "mode": "train"}))
    await asyncio.sleep(2.0)  # its frames fill the queue and the socket: it reads no more
    return sid, ws


def test_sigterm_ends_the_server_while_a_client_has_stopped_reading(tmp_path: Path) -> None:
    env = {"DELTAFLOW_DB": str(tmp_path / "deltaflow.db"), "DELTAFLOW_SAVE_SECONDS": "3600"}
    with server(env=env) as srv:

        async def run() -> str:
            sid, ws = await stalled(srv.url)
            srv.proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(srv.proc.wait, 30)  # raises if the connection holds it up
            ws.transport.abort()
            return sid

        sid = asyncio.run(run())
    with server(env=env) as srv:
        st = asyncio.run(welcome(srv.url, sid))
    assert st["step"] >= 4 and st["playing"] is None  # saved at shutdown, after the wait


def test_a_corrupt_database_is_moved_aside_and_the_server_starts(tmp_path: Path) -> None:
    db = tmp_path / "deltaflow.db"
    db.write_bytes(b"\x00garbage" * 512)
    with (tmp_path / "server.log").open("w+") as log:
        with server(env={"DELTAFLOW_DB": str(db)}, log=log) as srv:
            with urllib.request.urlopen(f"{srv.url}/healthz") as r:
                assert json.loads(r.read())["status"] == "ok"
        log.seek(0)
        text = log.read()
    aside = list(tmp_path.glob("deltaflow.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"\x00garbage" * 512
    assert aside[0].name in text, text


# --- the memory budget ---------------------------------------------------------------------------
@pytest.fixture
def tiny() -> Any:
    with TestClient(create_app(Settings(memory_mb=1))) as c:  # this process uses far more than 1 MB
        yield c


def test_over_the_memory_budget_a_new_session_is_refused(tiny: TestClient) -> None:
    with tiny.websocket_connect("/ws") as ws:
        conn = Conn(ws)
        e = conn.recv()
        assert e["type"] == "error" and e["code"] == "server_full" and "budget of 1 MB" in e["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            conn.recv()
        assert closed.value.code == 1013
    r = tiny.post("/api/rooms", json={})
    assert r.status_code == 503 and "budget" in r.json()["detail"]
    health = tiny.get("/healthz").json()
    assert health["status"] == "degraded" and any(x.startswith("memory:") for x in health["reasons"])


def test_over_the_memory_budget_load_and_fork_are_refused(client: TestClient) -> None:
    registry = client.app.state.registry  # type: ignore[attr-defined]
    with client.websocket_connect("/ws") as ws:
        conn = Conn(ws)
        st = conn.welcome()
        registry.options.memory_bytes = 1  # now over it
        for cmd in ({"type": "load", "preset": "xor"}, {"type": "fork"}):
            conn.send(cmd)
            e = conn.until("error")
            assert e["code"] == "server_full" and e["request"] == cmd["type"]
        registry.options.memory_bytes = 0
        assert conn.state()["scenario"]["name"] == st["scenario"]["name"]  # nothing changed


def test_healthz_is_ok_under_the_default_budget(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["reasons"] == []


def test_healthz_says_when_the_disk_is_full(client: TestClient) -> None:
    registry = client.app.state.registry  # type: ignore[attr-defined]
    registry.saver.full = True
    health = client.get("/healthz").json()
    assert health["status"] == "degraded" and health["reasons"][0].startswith("disk full: sessions are not being saved")
    registry.saver.full = False
    assert client.get("/healthz").json()["status"] == "ok"
