"""A/B branches over the websocket: `branch`, `branch_keep`, `branch_drop`, and the `branch`
and `branch_closed` events, checked against runs of the engine made here independently."""

import base64
import time
from typing import Any

import numpy as np
import pytest

from app import protocol
from app import scenario as sc
from app.nn import datasets
from app.nn.trainer import Trainer
from app.session import maps
from tests.web.conftest import Conn


def shuffled(**changes: Any) -> dict[str, Any]:
    """Circle with shuffled batches, so lockstep means the very same batch order."""
    return {**sc.preset("circle"), "shuffle": True, "seed": 4, **changes}


def engine(doc: dict[str, Any]) -> Trainer:
    return sc.build(sc.parse(doc)).trainer


def run(t: Trainer, steps: int) -> Trainer:
    for _ in range(steps):
        t.step()
    return t


def assert_params(event: dict[str, Any], t: Trainer) -> None:
    for l in range(t.net.depth):
        np.testing.assert_allclose(np.array(event["weights"][l]), t.net.w[l], rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.array(event["biases"][l]), t.net.b[l], rtol=0, atol=1e-12)


def loss(t: Trainer) -> float:
    return t.evaluate(t.x, t.y)[0]  # type: ignore[return-value]


def stepped(conn: Conn, steps: int) -> dict[str, Any]:
    """Shuffled circle loaded and stepped `steps` times: its document."""
    doc = shuffled()
    conn.load(scenario=doc)
    conn.send({"type": "step", "count": steps})
    conn.until("state")
    return doc


def branch(conn: Conn, from_step: int, change: dict[str, Any], **more: Any) -> dict[str, Any]:
    conn.send({"type": "branch", "from_step": from_step, "change": change, **more})
    return conn.until("branch")


def test_a_learning_rate_branch_trains_the_same_batches(conn: Conn) -> None:
    doc = stepped(conn, 8)
    ev = branch(conn, 3, {"learning_rate": 0.3})
    assert ev["full"] and ev["from_step"] == 3 and ev["step"] == 8 and ev["change"] == {"learning_rate": 0.3}
    # by hand: 3 steps as a, then the new rate for 5 more, the batch order continuing
    t = run(engine(doc), 3)
    t.optimizer.learning_rate = 0.3
    run(t, 5)
    assert_params(ev, t)
    a = run(engine(doc), 8)
    steps = [r[0] for r in ev["curve"]]
    assert steps == [3, 4, 5, 6, 7, 8]
    last = ev["curve"][-1]
    assert last[1] == pytest.approx(loss(a), abs=1e-12) and last[2] == pytest.approx(loss(t), abs=1e-12)
    dist = np.sqrt(sum(((p - q) ** 2).sum() for p, q in zip(a.net.params, t.net.params)))
    assert last[3] == pytest.approx(dist, abs=1e-12)
    assert ev["curve"][0][1] == ev["curve"][0][2] and ev["curve"][0][3] == 0  # the same state at step 3
    # the first step beyond the tolerance, and the farthest apart
    beyond = [r[0] for r in ev["curve"] if abs(r[2] - r[1]) > ev["tolerance"]]
    assert ev["first_difference"] == (beyond[0] if beyond else None)
    assert ev["widest"] == max(ev["curve"], key=lambda r: r[3])[0] == 8
    w = ev["weight"]
    diff = [np.abs(x - y) for x, y in zip(a.net.w, t.net.w)]
    assert w["diff"] == pytest.approx(max(float(d.max()) for d in diff), abs=1e-12)
    assert w["a"] == pytest.approx(a.net.w[w["layer"] - 1][w["to"], w["from"]], abs=1e-12)


def test_b_follows_every_step_of_a(conn: Conn) -> None:
    doc = shuffled()
    conn.load(scenario=doc)
    branch(conn, 0, {"batch_size": 25})
    conn.send({"type": "step"})
    ev = conn.until("branch")
    assert ev["step"] == 1
    conn.send({"type": "epoch"})
    ev = conn.until("branch")
    t = engine(doc)
    t.batch_size = 25
    run(t, ev["step"])
    assert ev["step"] == 25  # a's epoch of 250 examples in batches of 10
    assert_params(ev, t)


def test_a_seed_branch_redraws_the_initial_weights_only(conn: Conn) -> None:
    doc = stepped(conn, 4)
    ev = branch(conn, 0, {"seed": 99})
    t = engine(doc)  # the data and batch order of seed 4, the weights of seed 99
    s = sc.parse(doc)
    ws, bs = datasets.init_weights(s.layers, s.init.scheme, np.random.default_rng([99, 1]), s.init.scale)
    t.net.set([p for pair in zip(ws, bs) for p in pair])
    run(t, 4)
    assert_params(ev, t)
    assert ev["first_difference"] == 0  # different weights: different losses from the start


def test_a_weight_branch_changes_that_weight_at_from_step(conn: Conn) -> None:
    stepped(conn, 2)
    ev = branch(conn, 2, {"weight": {"layer": 2, "to": 1, "from": 3, "value": 2.5}})
    assert ev["step"] == 2 and ev["weights"][1][1][3] == 2.5
    assert ev["weight"]["layer"] == 2 and (ev["weight"]["to"], ev["weight"]["from"]) == (1, 3)
    assert ev["weight"]["b"] == 2.5


def test_b_can_be_kept(conn: Conn) -> None:
    stepped(conn, 3)
    ev = branch(conn, 1, {"optimizer": {"type": "momentum", "learning_rate": 0.05}})
    conn.send({"type": "branch_keep", "branch": "b"})
    closed = conn.until("branch_closed")
    assert closed["kept"] == "b"
    state = conn.welcome()
    assert state["weights"] == ev["weights"] and state["step"] == 3
    assert state["scenario"]["optimizer"]["type"] == "momentum"
    assert state["history"]["first"] == 0  # a's steps before the branch point come along
    conn.send({"type": "step"})
    events = conn.collect("update")
    assert all(e["type"] != "branch" for e in events)  # it is the only run now
    assert conn.state()["step"] == 4
    conn.send({"type": "branch_drop", "branch": "b"})
    assert conn.until("error")["code"] == "no_branch"


def test_b_can_be_dropped(conn: Conn) -> None:
    conn.load(scenario=shuffled())
    conn.send({"type": "step", "count": 3})
    before = conn.until("state")
    branch(conn, 1, {"regularization": {"type": "l2", "rate": 0.1}})
    conn.send({"type": "branch_drop", "branch": "b"})
    assert conn.until("branch_closed")["kept"] == "a"
    assert conn.state()["weights"] == before["weights"]
    conn.send({"type": "branch_keep", "branch": "a"})
    assert conn.until("error")["code"] == "no_branch"


def test_seeking_back_moves_b_and_before_the_branch_point_ends_it(conn: Conn) -> None:
    doc = stepped(conn, 6)
    branch(conn, 2, {"learning_rate": 0.5})
    conn.send({"type": "seek", "step": 4})
    ev = conn.until("branch")
    t = run(engine(doc), 2)
    t.optimizer.learning_rate = 0.5
    assert ev["step"] == 4 and [r[0] for r in ev["curve"]] == [2, 3, 4]
    assert_params(ev, run(t, 2))
    conn.send({"type": "seek", "step": 1})
    closed = conn.until("branch_closed")
    assert closed["kept"] == "a" and "before the branch point 2" in closed["reason"]


def test_training_keeps_both_runs_in_lockstep(conn: Conn) -> None:
    doc = shuffled()
    conn.load(scenario=doc)
    branch(conn, 0, {"learning_rate": 0.1})
    conn.send({"type": "play", "mode": "train", "fps": 30})
    frames = []
    deadline = time.monotonic() + 10
    while len(frames) < 3 and time.monotonic() < deadline:
        e = conn.recv()
        if e["type"] == "branch":
            frames.append(e)
    conn.send({"type": "pause"})
    final = conn.until("branch")
    while not final["full"]:  # frames sent before the pause
        final = conn.until("branch")
    state = conn.state()
    assert len(frames) == 3 and not any(f["full"] for f in frames)
    assert all(len(f["curve"]) <= 1 for f in frames)
    assert final["step"] == state["step"] > 0
    t = engine(doc)
    t.optimizer.learning_rate = 0.1
    assert_params(final, run(t, final["step"]))


def test_b_has_its_own_decision_boundary(conn: Conn) -> None:
    doc = shuffled()
    conn.load(scenario=doc)
    ev = branch(conn, 0, {"seed": 5})
    (m,) = ev["maps"]
    grid = np.frombuffer(base64.b64decode(m["data"]), np.uint8)
    assert m["res"] == 50 and grid.size == 2500 and m["lo"] <= m["hi"]
    net = engine(doc).net
    net.set([np.array(p) for pair in zip(ev["weights"], ev["biases"]) for p in pair])
    out = net.predict(maps.grid(sc.build(sc.parse(doc)).extent, 50))[:, 0]  # type: ignore[arg-type]
    lo, hi = out.min(), out.max()
    np.testing.assert_array_equal(grid, np.rint((out - lo) * (255.0 / (hi - lo))).astype(np.uint8))
    conn.load("regression-sine")  # a run of other inputs than a plane: no maps; a load ends the branch
    ev = branch(conn, 0, {"learning_rate": 1.0})
    assert ev["maps"] is None


@pytest.mark.parametrize(
    "cmd, code, fragment",
    [
        ({"from_step": 9, "change": {"seed": 1}}, "out_of_history", "branch.from_step: step 9 is outside"),
        ({"from_step": 0, "change": {}}, "invalid_command", "give exactly one of learning_rate"),
        ({"from_step": 0, "change": {"seed": 1, "learning_rate": 0.1}}, "invalid_command", "not 2"),
        (
            {"from_step": 0, "change": {"weight": {"layer": 2, "to": 3, "from": 0, "value": 1.0}}},
            "out_of_range",
            "branch.change.weight.to: layer 2 has 2 units",
        ),
        ({"from_step": 0, "change": {"optimizer": {"type": "lbfgs"}}}, "invalid_command", "branch.change: batch_size"),
        ({"from_step": 0, "change": {"learning_rate": -1}}, "invalid_command", "change.learning_rate"),
        ({"from_step": 0, "change": {"seed": 1}, "tolerance": 0}, "invalid_command", "tolerance"),
    ],
)
def test_bad_branches_are_refused_and_change_nothing(conn: Conn, cmd: dict, code: str, fragment: str) -> None:
    before = conn.load(scenario=shuffled())
    conn.send({"type": "branch", **cmd})
    err = conn.until("error")
    assert err["code"] == code and fragment in err["message"] and err["request"] == "branch"
    conn.send({"type": "step"})
    events = conn.collect("update")
    assert all(e["type"] != "branch" for e in events)
    assert conn.state()["history"]["first"] == before["history"]["first"]


def test_branch_events_match_the_protocol_schema(conn: Conn) -> None:
    conn.load(scenario=shuffled())
    events = [branch(conn, 0, {"weight": {"layer": 1, "to": 0, "from": 1, "value": 0.7}})]
    conn.send({"type": "play", "mode": "train"})
    while len(events) < 3:
        events.append(conn.until("branch"))
    conn.send({"type": "branch_drop", "branch": "a"})
    events.append(conn.until("branch_closed"))
    assert {e.get("full") for e in events} == {True, False, None}
    for e in events:
        protocol.EVENTS.validate_python(e)


def test_b_waits_for_a_step_in_progress_and_a_pause_pairs_them_at_the_step_shown(conn: Conn) -> None:
    doc = stepped(conn, 4)
    branch(conn, 2, {"learning_rate": 0.3})
    conn.send({"type": "next"})  # step 5 begun: its batch shown, a still at step 4
    conn.send({"type": "pause"})
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != "branch":
        events.append(conn.recv())
    state = [e for e in events if e["type"] == "state"][-1]
    ev = events[-1]
    assert state["step"] == 4 and ev["step"] == 4 and ev["curve"][-1][0] == 4
    t = run(engine(doc), 2)
    t.optimizer.learning_rate = 0.3
    assert_params(ev, run(t, 2))
    a = run(engine(doc), 4)
    assert ev["curve"][-1][1] == pytest.approx(loss(a), abs=1e-12)
    conn.send({"type": "step"})  # the rest of step 5: b follows to it
    assert conn.until("branch")["step"] == 5


def test_a_pause_as_an_animated_step_ends_leaves_b_at_as_step(conn: Conn, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.session import work
    from app.session.cursor import Cursor

    stepped(conn, 3)
    branch(conn, 1, {"learning_rate": 0.05})
    monkeypatch.setattr(work, "INLINE_FLOPS", 0)  # b's catch-up in a worker thread, as a large run's
    fork = Cursor.fork

    def slow_fork(self: Cursor) -> Cursor:
        time.sleep(0.2)  # b's catch-up has read where b stands: the pause arrives meanwhile
        return fork(self)

    monkeypatch.setattr(Cursor, "fork", slow_fork)
    conn.send({"type": "play", "mode": "animate", "speed": 120})
    while (e := conn.recv())["type"] != "branch":
        pass  # a step ended and b followed it once
    while not ((e := conn.recv())["type"] == "update" and e["layer"] == 3):
        pass  # the next step's last event: b's follow of it is under way
    conn.send({"type": "pause"})
    conn.send({"type": "graph", "layer": 1, "unit": 0, "example": 0})  # answered after the pause
    seen: list[dict[str, Any]] = []
    while (e := conn.recv())["type"] != "graph":
        seen.append(e)
    state = [e for e in seen if e["type"] == "state"][-1]
    ev = [e for e in seen if e["type"] == "branch"][-1]
    assert ev["step"] == state["step"] == ev["curve"][-1][0]
