"""Rooms across worker processes through Redis: two real servers (workers A and B) share one
redis-server and one session database, as two workers of `deltaflow serve --workers` or two
hosts would."""

import asyncio
import json
import signal
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.live import Server, get_json, post_json, server
from tests.redis_server import Redis, redis_server

PHASES = {"batch", "forward", "output_error", "backward", "update"}


@pytest.fixture
def redis() -> Iterator[Redis]:
    with redis_server() as r:
        yield r


class Workers:
    """Two servers on one Redis and one database; more may be started."""

    def __init__(self, stack: ExitStack, redis: Redis, db: str) -> None:
        self.stack, self.env = stack, {"DELTAFLOW_REDIS_URL": redis.url, "DELTAFLOW_DB": db}
        self.env["DELTAFLOW_SAVE_SECONDS"] = "0.2"

    def start(self) -> Server:
        return self.stack.enter_context(server(env=self.env))


@pytest.fixture
def workers(redis: Redis) -> Iterator[tuple[Workers, Server, Server]]:
    with tempfile.TemporaryDirectory() as d, ExitStack() as stack:
        w = Workers(stack, redis, str(Path(d) / "sessions.db"))
        yield w, w.start(), w.start()


def ws_url(srv: Server, room: str | None = None, session: str | None = None) -> str:
    query = f"room={room}" if room else f"session={session}"
    return srv.url.replace("http", "ws") + "/ws?" + query


OPEN: list[Any] = []  # every connection a test opened, closed by run()


async def connect(url: str) -> Any:
    ws = await websockets.connect(url, max_size=None, ping_interval=None, open_timeout=20)
    OPEN.append(ws)
    return ws


def run(test: Any) -> None:
    """Run a test's coroutine, then close every connection it opened, even when it failed."""

    async def go() -> None:
        try:
            await test()
        finally:
            while OPEN:
                await OPEN.pop().close()

    asyncio.run(go())


async def until(ws: Any, kind: str, timeout: float = 20.0, **match: Any) -> dict[str, Any]:
    """The next text event of type `kind` (with the given fields)."""
    while True:
        msg = await asyncio.wait_for(ws.recv(), timeout)
        if isinstance(msg, str):
            e: dict[str, Any] = json.loads(msg)
            if e["type"] == kind and all(e.get(k) == v for k, v in match.items()):
                return e


async def phases(ws: Any, steps: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The phase events (batch ... update) of the next `steps` shown steps, skipping the rest."""
    out: list[dict[str, Any]] = []
    done = last = 0
    while done < steps:
        msg = await asyncio.wait_for(ws.recv(), timeout)
        if isinstance(msg, str):
            e = json.loads(msg)
            assert e["type"] != "error", e
            if e["type"] in PHASES:
                out.append(e)
                if e["type"] == "forward":
                    last = max(last, e["layer"])
                done += e["type"] == "update" and e["layer"] == last  # a step's updates end at the last layer
    return out


async def presenter(srv: Server, room: dict[str, Any]) -> Any:
    """A presenter of `room` connected to `srv`: joins as a viewer, then claims."""
    ws = await connect(ws_url(srv, room["room"]))
    await until(ws, "state")
    await ws.send(json.dumps({"type": "claim", "token": room["presenter_token"]}))
    state = await until(ws, "state")
    assert state["room"]["role"] == "presenter" and state["session"]
    return ws


def test_viewers_on_two_workers_see_the_same_events_in_the_same_order(workers: Any) -> None:
    _, a, b = workers
    room = post_json(a.url + "/api/rooms", {"preset": "xor"})

    async def go() -> None:
        boss = await presenter(a, room)
        here, there = await connect(ws_url(a, room["room"])), await connect(ws_url(b, room["room"]))
        for ws in (here, there):
            assert (await until(ws, "state"))["room"]["role"] == "viewer"
        for _ in range(3):
            await boss.send(json.dumps({"type": "step"}))
        seen = await asyncio.gather(phases(boss, 3), phases(here, 3), phases(there, 3))
        assert seen[1] == seen[0] and seen[2] == seen[0]  # every field, in order
        assert [e["step"] for e in seen[2] if e["type"] == "batch"] == [1, 2, 3]

    run(go)


def test_a_presenter_on_another_worker_has_its_commands_forwarded(workers: Any) -> None:
    _, a, b = workers
    room = post_json(a.url + "/api/rooms", {"preset": "xor"})  # owned by A

    async def go() -> None:
        boss = await presenter(b, room)
        watcher = await connect(ws_url(a, room["room"]))
        await until(watcher, "state")
        await boss.send(json.dumps({"type": "step"}))
        await boss.send(json.dumps({"type": "step"}))
        mine, theirs = await asyncio.gather(phases(boss, 2), phases(watcher, 2))
        assert mine == theirs and [e["step"] for e in mine if e["type"] == "batch"] == [1, 2]
        await boss.send(json.dumps({"type": "seek", "step": 10_000}))  # the owner's error comes back
        err = await until(boss, "error")
        assert err["code"] == "out_of_history" and err["request"] == "seek"
        viewer = await connect(ws_url(b, room["room"]))
        await until(viewer, "state")
        await viewer.send(json.dumps({"type": "step"}))
        assert (await until(viewer, "error"))["code"] == "read_only"
        # a fork is made in the worker the viewer is on, at the room's state
        await viewer.send(json.dumps({"type": "fork"}))
        forked = await until(viewer, "state", room=None)
        assert forked["step"] == 2 and forked["session"]
        again = await connect(ws_url(b, session=forked["session"]))  # it lives in B
        assert (await until(again, "state"))["weights"] == forked["weights"]

    run(go)


def test_the_viewer_count_is_summed_over_workers(workers: Any) -> None:
    _, a, b = workers
    room = post_json(a.url + "/api/rooms", {"preset": "xor"})
    code = room["room"]

    async def go() -> None:
        conns = [await connect(ws_url(srv, code)) for srv in (a, a, b, b, b)]
        for ws in conns:
            await until(ws, "state")
        deadline = time.monotonic() + 10
        while True:
            counts = [get_json(f"{srv.url}/api/rooms/{code}")["viewers"] for srv in (a, b)]
            if counts == [5, 5] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert counts == [5, 5]
        assert (await until(conns[3], "room", viewers=5))["code"] == code  # told to viewers on B too
        await conns[4].close()
        assert (await until(conns[0], "room", viewers=4))["code"] == code

    run(go)


def test_a_killed_owner_s_room_is_taken_over_and_its_viewers_resume(workers: Any) -> None:
    _, a, b = workers
    room = post_json(a.url + "/api/rooms", {"preset": "xor"})
    code = room["room"]

    async def go() -> None:
        boss = await presenter(a, room)
        for _ in range(3):
            await boss.send(json.dumps({"type": "step"}))
        await phases(boss, 3)
        here, there = await connect(ws_url(a, code)), await connect(ws_url(b, code))
        assert (await until(here, "state"))["step"] == 3
        assert (await until(there, "state"))["step"] == 3
        await asyncio.sleep(1.0)  # saved (every 0.2 s while it changes)
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        # B takes the room over from the saved state; its viewers are told and reconnect
        err = await until(there, "error", timeout=45)
        assert err["code"] == "busy" and code in err["message"]
        for _ in range(2):  # the viewer that was on A and the one on B, both to B
            again = await connect(ws_url(b, code))
            state = await until(again, "state")
            assert state["step"] == 3 and state["room"] == {
                "code": code,
                "role": "viewer",
                "viewers": state["room"]["viewers"],
            }
        boss = await presenter(b, room)  # the token still works
        await boss.send(json.dumps({"type": "step"}))
        seen = await asyncio.gather(phases(boss, 1), phases(again, 1))
        assert seen[0] == seen[1] and seen[0][0]["step"] == 4

    run(go)


def test_a_redis_restart_is_recovered_from_and_refused_clearly_meanwhile(workers: Any, redis: Redis) -> None:
    _, a, b = workers
    room = post_json(a.url + "/api/rooms", {"preset": "xor"})
    code = room["room"]

    async def go() -> None:
        boss = await presenter(a, room)
        there = await connect(ws_url(b, code))
        await until(there, "state")
        redis.stop()
        refused = await connect(ws_url(b, "ABCDEF"))  # the directory is needed: a clear refusal
        err = await until(refused, "error")
        assert err["code"] == "busy" and "Redis" in err["message"]
        with pytest.raises(urllib.error.HTTPError) as down:
            post_json(b.url + "/api/rooms", {"preset": "xor"})
        assert down.value.code == 503
        down.value.close()
        redis.start()  # empty: the workers tell it their rooms again
        again = await until(there, "state")  # events were lost meanwhile: the viewer on B starts again
        assert again["room"]["code"] == code and again["step"] == 0
        await boss.send(json.dumps({"type": "step"}))
        mine = await phases(boss, 1)
        assert await phases(there, 1) == mine  # the viewer on B follows again
        late = await connect(ws_url(b, code))  # its welcome: the last one, and the events since
        state = await until(late, "state")
        assert state["step"] == 1 or await phases(late, 1) == mine

    run(go)


def test_serve_workers_share_rooms_through_redis(redis: Redis, tmp_path: Path) -> None:
    import redis as client

    env = {"DELTAFLOW_DB": str(tmp_path / "sessions.db")}
    with server(env=env, args=["--workers", "2", "--redis", redis.url]) as srv:
        room = post_json(srv.url + "/api/rooms", {"preset": "xor"})

        async def go() -> None:
            for _ in range(6):  # to whichever worker accepts each
                ws = await connect(ws_url(srv, room["room"]))
                assert (await until(ws, "state"))["room"]["code"] == room["room"]
            deadline, agreed = time.monotonic() + 30, 0
            while agreed < 4 and time.monotonic() < deadline:  # whichever worker answers (each within a tick)
                agreed = agreed + 1 if get_json(f"{srv.url}/api/rooms/{room['room']}")["viewers"] == 6 else 0
                await asyncio.sleep(0.2)
            assert agreed == 4

        run(go)
        with client.Redis(port=redis.port) as r:  # two workers, each with its own id
            deadline = time.monotonic() + 30  # the second may still be starting on a loaded machine
            while len(r.keys("deltaflow:alive:*")) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(r.keys("deltaflow:alive:*")) == 2
