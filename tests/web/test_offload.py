"""A large run's math stays off the event loop (app/session/offload.py, play.heavy_slice):
counted large (every run, with work.INLINE_FLOPS at 0), no command, training or animation
evaluates the network on the loop's thread, and the numbers are those of the inline path."""

import asyncio
import json
import struct
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app import scenario as sc
from app.cli import trace
from app.nn.network import Network
from app.protocol import encode
from app.session import maps, play, replica, work
from app.session.cursor import Cursor, Options
from benchmarks import holds
from tests.web.conftest import Conn

SEQUENCE = [*holds.COMMANDS[1:], {"type": "gradcheck"}]  # each command, after the large run's load


@pytest.fixture
def on_loop(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Where the network was evaluated on a thread that runs an event loop: one entry each time."""
    seen: list[str] = []
    forward = Network.forward

    def watched(self: Network, x: np.ndarray) -> Any:
        try:
            asyncio.get_running_loop()
            seen.append(f"{len(x)} rows")
        except RuntimeError:  # a worker thread: no loop runs here
            pass
        return forward(self, x)

    monkeypatch.setattr(Network, "forward", watched)
    yield seen


@pytest.fixture(params=["thread", "replica"])
def off_loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[str] | None:
    """Every run counted large: its work in worker threads, and with "replica" its traced
    steps and training in the replica. Then the names of what the replica answered (a thread
    takes what it cannot, so a test sees the replica's work only here); None for threads."""
    monkeypatch.setattr(work, "INLINE_FLOPS", 0)
    if request.param == "thread":
        return None
    monkeypatch.setattr(replica, "REMOTE_FLOPS", 0)
    answered: list[str] = []
    call = replica.call

    async def counted(fn: Any, args: Any, shared: Any) -> Any:
        out = await call(fn, args, shared)
        answered.append(fn.__name__)
        return out

    monkeypatch.setattr(replica, "call", counted)
    return answered


PHASES = ("batch", "forward", "output_error", "backward", "update", "epoch")


def animating(c: Conn, steps: int) -> list[dict[str, Any]]:
    """worked-example animating at 120 phases/s on connection `c`; the phase events of its
    first `steps` steps as the trace has them."""
    c.welcome()
    c.load("worked-example")
    c.send({"type": "play", "mode": "animate", "speed": 120})
    return [json.loads(encode(e)) for e in trace(sc.preset("worked-example"), steps=steps)][1:]


def run(c: Conn, cmd: dict[str, Any], marker: int) -> None:
    """Send `cmd` and read up to its end (a play: until it has trained or animated a while):
    a `select` of example `marker` after it, whose state is the first to show that example."""
    c.send(cmd)
    if cmd["type"] == "play":
        kind = "frame" if cmd["mode"] == "train" else "update"
        for _ in range(3):
            c.until(kind)
    c.send({"type": "select", "example": marker})
    while (e := c.recv())["type"] != "state" or e["selected"] != marker:
        pass


def test_the_network_is_evaluated_on_the_loop_when_small_and_never_when_counted_large(
    client: TestClient, on_loop: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with client.websocket_connect("/ws") as ws:
        c = Conn(ws)
        c.welcome()
        c.load("circle")
        run(c, {"type": "step"}, 5)
        assert on_loop  # the watch sees a small run's step, which is cheaper inline
        monkeypatch.setattr(work, "INLINE_FLOPS", 0)
        on_loop.clear()
        for k, cmd in enumerate(SEQUENCE):
            run(c, cmd, 6 + k % 2)
        assert on_loop == []


def test_training_off_the_loop_reaches_the_weights_and_checkpoints_of_the_same_steps_taken_inline(
    client: TestClient, off_loop: list[str] | None
) -> None:
    with client.websocket_connect("/ws") as ws:
        c = Conn(ws)
        c.welcome()
        c.load("circle")
        c.send({"type": "play", "mode": "train"})
        for _ in range(5):
            c.until("frame")
        st = c.state()
        back = st["history"]["last"] // 2
        c.send({"type": "seek", "step": back})  # from a checkpoint the training kept
        earlier = c.until("state")
    twin = Cursor(sc.parse(sc.preset("circle")), Options())
    shown = {}
    for k in range(1, st["step"] + 1):
        twin.fast_step()
        if k in (back, st["step"]):
            shown[k] = json.loads(encode({"w": twin.trainer.net.w, "b": twin.trainer.net.b}))
    assert st["step"] > back > 0 and (off_loop is None or "train" in off_loop)
    assert [st["weights"], st["biases"]] == [shown[st["step"]]["w"], shown[st["step"]]["b"]]  # bit for bit
    assert earlier["step"] == back and [earlier["weights"], earlier["biases"]] == [shown[back]["w"], shown[back]["b"]]


def test_an_animation_off_the_loop_shows_the_trace_phase_by_phase(
    client: TestClient, off_loop: list[str] | None
) -> None:
    with client.websocket_connect("/ws") as ws:
        c = Conn(ws)
        expected = animating(c, 2)
        got: list[dict[str, Any]] = []
        while len(got) < len(expected):
            e = c.recv()
            if e["type"] in PHASES:
                got.append(e)
        c.send({"type": "pause"})
    assert got == expected and (off_loop is None or off_loop.count("step") == 2)


def test_a_long_step_and_an_epoch_off_the_loop_end_where_the_inline_steps_do(
    conn: Conn, off_loop: list[str] | None
) -> None:
    conn.load("circle")
    conn.send({"type": "step", "count": 37})
    after_steps = conn.until("state")
    conn.send({"type": "epoch"})
    after_epoch = conn.until("state")
    twin = Cursor(sc.parse(sc.preset("circle")), Options())
    for _ in range(37):
        twin.fast_step()
    mid = json.loads(encode({"w": twin.trainer.net.w, "curve": twin.thin_curve()}))
    epoch = twin.trainer.epochs_done
    while twin.trainer.epochs_done == epoch:
        twin.fast_step()
    end = json.loads(encode({"w": twin.trainer.net.w, "curve": twin.thin_curve()}))
    assert after_steps["step"] == 37 and after_steps["weights"] == mid["w"] and after_steps["curve"] == mid["curve"]
    assert after_epoch["step"] == twin.trainer.step_count and after_epoch["weights"] == end["w"]
    assert after_epoch["curve"] == end["curve"]  # a row for every epoch the steps ended
    assert off_loop is None or off_loop.count("train") >= 2  # the steps and the epoch's


@pytest.mark.parametrize("delay", [0.0, 0.03, 0.07])
def test_a_pause_while_an_animation_computes_its_step_loses_no_phase(
    client: TestClient, off_loop: list[str] | None, delay: float
) -> None:
    with client.websocket_connect("/ws") as ws:
        c = Conn(ws)
        expected = animating(c, 3)
        time.sleep(delay)
        c.send({"type": "pause"})
        got: list[dict[str, Any]] = []
        while (e := c.recv())["type"] != "state" or e["playing"] is not None:
            got += [e] if e["type"] in PHASES else []
        while len(got) < len(expected):  # the rest, phase by phase (an epoch comes unasked)
            c.send({"type": "next"})
            while (e := c.recv())["type"] not in PHASES:
                pass
            got.append(e)
    assert got[: len(expected)] == expected


def test_maps_of_outputs_beyond_float32_say_infinity_rather_than_fail() -> None:
    # on the way to a divergence: outputs far beyond float32's range, on both sides
    net = Network([2, 1], ["linear"], [np.array([[1e300, 0.0]])], [np.zeros(1)])
    points = maps.grid([-1.0, 1.0, -1.0, 1.0])
    data = maps.pack(net, points, 1, 0)
    lo, hi = struct.unpack_from("<ff", data, maps.HEADER.size + 8)
    assert lo == -np.inf and hi == np.inf


def test_a_large_run_whose_frame_fails_stops_and_says_why(conn: Conn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(work, "INLINE_FLOPS", 0)  # frames computed in a worker thread, as a large run's

    def broken(s: Any, m: Any = None) -> Any:
        raise RuntimeError("no frame today")

    monkeypatch.setattr(play, "frame", broken)
    conn.load("circle")
    conn.send({"type": "play", "mode": "train"})
    while not (st := conn.until("state"))["paused_reason"]:
        pass
    assert st["playing"] is None and st["paused_reason"]["kind"] == "failed"
    assert "no frame today" in st["paused_reason"]["message"]
