"""The send path as `deltaflow serve` runs it (frames written straight to the transport by the
loop's Flusher), against a real server over TCP: a room whose viewers read, stall or vanish
while the presenter drives it, floods of bad messages, and very large events."""

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections.abc import Iterator
from typing import IO, Any

import pytest
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from app.session.outbox import Message
from app.web import wire
from tests.live import get_json, in_thread, post_json, serve

PHASES = frozenset({"batch", "forward", "output_error", "backward", "update", "epoch"})
ENV = {
    "DELTAFLOW_DB": ":memory:",
    "DELTAFLOW_OUTBOX_LIMIT": "64",  # a stalled viewer's overflows within the test (a step's answer: ~15)
    "DELTAFLOW_MESSAGE_RATE": "1e9",
    "DELTAFLOW_MESSAGE_BURST": "1000000000",
}
WAIT = 60.0  # seconds: generous, for a loaded CI machine; the tests end long before


@pytest.fixture(scope="module")
def server(log: IO[str]) -> Iterator[str]:
    with serve(env=ENV, log=log) as url:
        yield url


async def connect(url: str, **kw: Any) -> Any:
    return await websockets.connect(url, compression=None, max_size=None, open_timeout=WAIT, **kw)


async def stalling(url: str) -> Any:
    """A client that reads nothing (as a frozen tab): a small receive buffer, and its library
    stops reading the socket after one message, so the server's writes soon stop being taken."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(url.split(":")[2].split("/")[0])))
    return await connect(url, max_queue=1, sock=sock)


async def open_room(base: str, body: dict[str, Any] | None = None) -> tuple[str, Any, list[Any]]:
    """A new room, its presenter connected and claimed, reading into a list: the viewers' URL,
    the presenter's socket, and what it has received."""
    room = post_json(f"{base}/api/rooms", body or {})
    url = base.replace("http", "ws") + f"/ws?room={room['room']}"
    presenter = await connect(url)
    await presenter.send(json.dumps({"type": "claim", "token": room["presenter_token"]}))
    got: list[Any] = []
    asyncio.get_running_loop().create_task(read(presenter, got))
    await until(lambda: any(is_state(m) and json.loads(m)["room"]["role"] == "presenter" for m in got))
    return url, presenter, got


async def read(ws: Any, out: list[Any]) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for m in ws:
            out.append(m)


async def until(ready: Any, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def is_state(m: Any) -> bool:
    return isinstance(m, str) and m.startswith('{"type":"state"')


def phases(got: list[Any]) -> list[str]:
    """The phase events received, as sent (every member gets the same bytes), without the
    welcome's (a state, the dataset, the run's first epoch) of each join, claim or resync."""
    out, before = [], ""
    for m in got:
        if isinstance(m, str):
            kind = json.loads(m)["type"]
            if kind in PHASES and not (kind == "epoch" and before == "dataset"):
                out.append(m)
            before = kind
    return out


def rst(ws: Any) -> None:
    """Drop the connection as a killed client's machine does: a TCP reset, no close frame."""
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()


def subsequence_at(part: list[str], whole: list[str]) -> list[int]:
    """Where each of `part` is in `whole`, in order (AssertionError if it is not a subsequence)."""
    at, k = [], 0
    for m in part:
        while k < len(whole) and whole[k] != m:
            k += 1
        assert k < len(whole), f"{m[:120]} is out of order, duplicated or never sent"
        at.append(k)
        k += 1
    return at


# --- a room: readers, stalled viewers, a presenter who steps and sends rubbish ---------------------
READERS, STALLED, BAD, ROUNDS = 30, 15, 500, 20


async def drive_a_room(base: str) -> tuple[list[Any], list[list[Any]], list[list[Any]]]:
    url, presenter, pgot = await open_room(base)
    readers = [await connect(url) for _ in range(READERS)]
    stalled = [await stalling(url) for _ in range(STALLED)]
    got: list[list[Any]] = [[] for _ in readers]
    tasks = [asyncio.create_task(read(ws, out)) for ws, out in zip(readers, got, strict=True)]
    await presenter.send(json.dumps({"type": "play", "mode": "animate", "speed": 120}))
    for k in range(ROUNDS):
        await asyncio.sleep(0.1)
        for i in range(BAD // ROUNDS):
            await presenter.send("{not json" if i % 2 else json.dumps({"type": "fly"}))
        await presenter.send(json.dumps({"type": "step", "count": 1}))  # stops playing; every event of the step
        await presenter.send(json.dumps({"type": "play", "mode": "animate" if k % 3 else "train", "speed": 120}))
    await presenter.send(json.dumps({"type": "pause"}))
    await presenter.send(json.dumps({"type": "step", "count": 1}))
    await presenter.send(json.dumps({"type": "ping"}))
    await until(lambda: '{"type":"pong"}' in pgot)
    sent = phases(pgot)
    last = json.loads([m for m in pgot if is_state(m)][-1])["step"]

    def caught_up(g: list[Any]) -> bool:
        """To the last events, or to a welcome after them (a resync)."""
        return phases(g)[-1:] == sent[-1:] or any(is_state(m) and json.loads(m)["step"] > last for m in g)

    await until(lambda: all(caught_up(g) for g in got))
    late: list[list[Any]] = [[] for _ in stalled]
    tasks += [asyncio.create_task(read(ws, out)) for ws, out in zip(stalled, late, strict=True)]
    await until(lambda: all(caught_up(g) for g in late))  # they read again and catch up
    for ws in [presenter, *readers, *stalled]:
        rst(ws)
    await asyncio.gather(*tasks)
    return pgot, got, late


def test_every_reader_in_a_room_gets_every_event_once_in_order_beside_stalled_viewers(server: str) -> None:
    pgot, got, late = asyncio.run(drive_a_room(server))
    sent = phases(pgot)
    assert len(sent) > 100
    steps = [json.loads(m).get("step") for m in sent]
    steps = [s for s in steps if s is not None]
    assert steps == sorted(steps) and steps[-1] >= 2  # the presenter's own, in order
    whole = [g for g in got if phases(g) == sent]  # none lost, none duplicated, none out of order
    # a reader starved of CPU on a loaded machine may fall behind too: then it is resynchronized
    assert len(whole) >= READERS // 2 and resynced(got, sent) == READERS - len(whole)
    for g in got:
        frames = [json.loads(m)["step"] for m in g if isinstance(m, str) and m.startswith('{"type":"frame"')]
        assert frames == sorted(frames)
    errors = [json.loads(m) for m in pgot if isinstance(m, str) and m.startswith('{"type":"error"')]
    bad = [e for e in errors if e["code"] in ("invalid_json", "unknown_type")]
    assert sum(e.get("count", 1) for e in bad) == BAD  # every rejected message counted
    assert {e["code"] for e in errors} <= {"invalid_json", "unknown_type", "cancelled"}  # a pause's, maybe
    assert not any(m.startswith('{"type":"error"') for g in got for m in g if isinstance(m, str))  # only its sender's
    assert resynced(late, sent) > 0  # the outboxes of 64 messages overflowed: the case is exercised


def resynced(viewers: list[list[Any]], sent: list[str]) -> int:
    """How many of `viewers` were resynchronized. What each got is in order, without
    duplicates; one that missed some got a welcome, then every event after it."""
    n = 0
    for g in viewers:
        at = subsequence_at(phases(g), sent)
        if at != list(range(len(sent))):
            n += 1
            welcome = max(k for k, m in enumerate(g) if isinstance(m, str) and m.startswith('{"type":"dataset"'))
            rest = phases(g[welcome:])
            assert rest == sent[len(sent) - len(rest) :]
    return n


# --- many connections dropped at once while events flow -----------------------------------------------
async def drop_viewers_mid_stream(base: str, rounds: int = 4, n: int = 40) -> tuple[list[Any], list[int]]:
    """Rounds of `n` viewers that join, then vanish together (a reset, or a FIN with no close
    frame) while the presenter animates and steps. What the presenter got; the server's
    connection count after each round (from /healthz)."""
    url, presenter, pgot = await open_room(base)
    await presenter.send(json.dumps({"type": "play", "mode": "animate", "speed": 120}))
    counts = []
    for r in range(rounds):
        viewers = [await connect(url, max_queue=None if r % 2 else 1) for _ in range(n)]
        await asyncio.sleep(0.2)
        await presenter.send(json.dumps({"type": "step", "count": 1}))  # a burst to every viewer
        await presenter.send(json.dumps({"type": "play", "mode": "train" if r % 2 else "animate", "speed": 120}))
        for ws in viewers:
            if r % 2:
                ws.transport.abort()
            else:
                rst(ws)
        await until(lambda: get_json(f"{base}/healthz")["connections"] == 1)  # the presenter's alone
        counts.append(get_json(f"{base}/healthz")["connections"])
    await presenter.send(json.dumps({"type": "ping"}))
    await until(lambda: '{"type":"pong"}' in pgot)
    rst(presenter)
    return pgot, counts


def test_viewers_dropped_mid_stream_leave_nothing_behind_and_the_presenter_goes_on(server: str, log: IO[str]) -> None:
    pgot, counts = asyncio.run(drop_viewers_mid_stream(server))
    assert counts == [1, 1, 1, 1]
    steps = [json.loads(m)["step"] for m in phases(pgot) if json.loads(m)["type"] == "batch"]
    assert steps == sorted(steps) and len(steps) >= 4
    time.sleep(0.5)  # the server writes its lines
    log.seek(0)
    text = log.read()
    for bad in ("Traceback", "ERROR", "socket.send() raised exception", "Task exception was never retrieved"):
        assert bad not in text, text[text.find(bad) - 2000 : text.find(bad) + 2000]


# --- a transport that closes in the middle of a flush ---------------------------------------------------
WRITTEN: list[bool] = []  # what the writer answered after the transport was aborted


async def _aborted(ws: WebSocket) -> None:
    await ws.accept()
    proto = wire.protocol_of(ws)
    write = wire.writer(proto)
    assert write is not None
    await ws.receive()  # the client's "go"
    # as a failed send(2) does: the transport is closing now, connection_lost comes a turn later,
    # while the Flusher is still writing this outbox's other messages
    proto.transport.abort()
    WRITTEN.extend(write(Message(f"m{k}".encode())) for k in range(8))


@pytest.fixture(scope="module")
def in_process() -> Iterator[int]:
    with in_thread(Starlette(routes=[WebSocketRoute("/aborted", _aborted)])) as port:
        yield port


async def go_and_wait(port: int) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/aborted", compression=None) as ws:
        await ws.send("go")
        with contextlib.suppress(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), WAIT)


def test_nothing_is_written_to_a_transport_that_is_closing(in_process: int) -> None:
    """Writes to it would vanish (after the fourth, each logs "socket.send() raised exception"),
    and the writer would report them sent: it refuses them, and the sender's task finds the
    connection closed."""
    WRITTEN.clear()
    asyncio.run(go_and_wait(in_process))
    assert WRITTEN == [False] * 8


# --- very large events to a slow reader beside fast ones ----------------------------------------------
LARGE = {  # the largest network and batch the limits allow: each traced step is megabytes
    "layers": [2, 64, 64, 1],
    "activations": ["tanh", "tanh", "sigmoid"],
    "loss": "squared_error",
    "optimizer": {"type": "sgd", "learning_rate": 0.03},
    "batch_size": 10_000,
    "seed": 1,
    "data": {"generator": "circle", "samples": 10_000, "noise": 0.0, "train_fraction": 1.0},
}


async def large_steps(base: str, steps: int = 3) -> tuple[list[Any], list[list[Any]], list[list[Any]]]:
    url, presenter, pgot = await open_room(base, {"scenario": LARGE})
    fast = [await connect(url) for _ in range(5)]
    slow = [await stalling(url) for _ in range(3)]
    got: list[list[Any]] = [[] for _ in fast]
    tasks = [asyncio.create_task(read(ws, g)) for ws, g in zip(fast, got, strict=True)]
    for _ in range(steps):
        await presenter.send(json.dumps({"type": "step", "count": 1}))
    await presenter.send(json.dumps({"type": "ping"}))
    await until(lambda: '{"type":"pong"}' in pgot)
    sent = phases(pgot)
    await until(lambda: all(len(phases(g)) >= len(sent) for g in got))
    late: list[list[Any]] = [[] for _ in slow]
    tasks += [asyncio.create_task(read(ws, g)) for ws, g in zip(slow, late, strict=True)]
    await until(lambda: all(phases(g)[-1:] == sent[-1:] for g in late))
    for ws in [presenter, *fast, *slow]:
        rst(ws)
    await asyncio.gather(*tasks)
    return pgot, got, late


def test_large_traced_steps_reach_fast_readers_whole_beside_slow_ones(server: str) -> None:
    pgot, got, late = asyncio.run(large_steps(server))
    sent = phases(pgot)
    assert max(len(m) for m in sent) > 100_000  # traced events of the batch of 10,000
    assert [json.loads(m)["step"] for m in sent if json.loads(m)["type"] == "batch"] == [1, 2, 3]
    for g in [*got, *late]:
        assert phases(g) == sent


# --- a room in which no one reads ---------------------------------------------------------------------
async def stall_a_room(base: str, viewers: int = 10) -> dict[str, Any]:
    """A presenter trains, then it and every viewer stop reading for 6 s: the `state` that
    paused the run, read afterwards."""
    room = post_json(f"{base}/api/rooms", {})
    url = base.replace("http", "ws") + f"/ws?room={room['room']}"
    presenter = await stalling(url)
    await presenter.send(json.dumps({"type": "claim", "token": room["presenter_token"]}))
    stalled = [await stalling(url) for _ in range(viewers)]
    await presenter.send(json.dumps({"type": "play", "mode": "train", "fps": 60}))
    await asyncio.sleep(6.0)  # the frames fill every connection's buffers, then wait in the outboxes
    got: list[Any] = []
    task = asyncio.create_task(read(presenter, got))
    await until(lambda: any(is_state(m) and json.loads(m)["paused_reason"] for m in got))
    for ws in [presenter, *stalled]:
        rst(ws)
    await task
    state: dict[str, Any] = next(json.loads(m) for m in got if is_state(m) and json.loads(m)["paused_reason"])
    return state


def test_a_room_in_which_no_one_reads_pauses_its_run(server: str) -> None:
    state = asyncio.run(stall_a_room(server))
    assert state["paused_reason"]["kind"] == "unread" and state["playing"] is None
