"""The debugging commands and events over the websocket: breakpoints, graph, health, and
gradcheck and slice at any step of the history."""

from typing import Any

import numpy as np
import pytest

from app import protocol
from app import scenario as sc
from app.nn.graph import unit_graph
from tests import engine_helpers as h
from tests.web.conftest import Conn


def valid(e: dict[str, Any]) -> dict[str, Any]:
    protocol.EVENTS.validate_python(e)  # the event matches its documented schema
    return e


def test_breakpoints_show_in_state_and_clear(conn: Conn) -> None:
    st = conn.state()
    assert st["breakpoints"] == [{"kind": "nonfinite"}]
    on = [{"kind": "loss_increase", "k": 3}, {"kind": "saturated", "epsilon": 0.01, "fraction": 0.9}]
    conn.send({"type": "breakpoints", "on": on})
    assert valid(conn.until("state"))["breakpoints"] == [{"kind": "nonfinite"}, *on]
    conn.send({"type": "breakpoints", "on": []})
    assert conn.until("state")["breakpoints"] == [{"kind": "nonfinite"}]


@pytest.mark.parametrize(
    "on, field",
    [
        ([{"kind": "vanishing"}], "threshold"),
        ([{"kind": "vanishing", "threshold": -1}], "threshold"),
        ([{"kind": "saturated", "epsilon": 0.1, "fraction": 2}], "fraction"),
        ([{"kind": "dead_units"}, {"kind": "dead_units"}], "on[1]"),
        ([{"kind": "step", "step": 0}], "step"),
        ([{"kind": "nope"}], "nope"),
        ([{"kind": "accuracy", "value": 0.5, "extra": 1}], "extra"),
    ],
)
def test_a_bad_breakpoint_is_refused_by_name_and_changes_nothing(conn: Conn, on: list[Any], field: str) -> None:
    conn.send({"type": "breakpoints", "on": [{"kind": "step", "step": 9}]})
    conn.until("state")
    conn.send({"type": "breakpoints", "on": on})
    err = conn.until("error")
    assert err["request"] == "breakpoints" and field in err["message"], err
    assert conn.state()["breakpoints"][1:] == [{"kind": "step", "step": 9}]


def test_a_step_breakpoint_pauses_a_training_run_with_its_reason(conn: Conn) -> None:
    conn.send({"type": "breakpoints", "on": [{"kind": "step", "step": 300}]})
    conn.until("state")
    conn.send({"type": "play", "mode": "train"})
    while True:
        e = conn.recv()
        if e["type"] == "state" and e["paused_reason"]:
            break
    r = valid(e)["paused_reason"]
    assert e["step"] == 300 and e["playing"] is None
    assert r["kind"] == "step" and r["step"] == 300 and r["layer"] is None and "300" in r["message"]


def test_a_dead_unit_pauses_stepping_and_names_the_unit(conn: Conn) -> None:
    conn.load(preset="dead-relu")
    conn.send({"type": "breakpoints", "on": [{"kind": "dead_units"}]})
    conn.until("state")
    conn.send({"type": "step", "count": 5000})
    while True:
        e = conn.recv()
        if e["type"] == "state" and e["paused_reason"]:
            break
    r = e["paused_reason"]
    assert r["kind"] == "dead_units" and r["step"] == e["step"] < 5000
    st = conn.state()
    w = np.array(st["weights"][r["layer"] - 1])
    b = np.array(st["biases"][r["layer"] - 1])
    assert r["layer"] == 1  # checked here against the data: no example gets the unit above 0
    t = sc.build(sc.parse(sc.preset("dead-relu"))).trainer
    assert (t.x @ w[r["unit"]] + b[r["unit"]] <= 0).all()


def test_health_follows_every_step_with_a_row_per_layer(conn: Conn) -> None:
    conn.load(preset="circle")
    conn.send({"type": "step"})
    e = valid(conn.until("health"))
    assert e["step"] == 1 and [x["layer"] for x in e["layers"]] == [1, 2, 3]
    st = conn.state()
    for row, w in zip(e["layers"], st["weights"]):
        w = np.array(w)
        hist = row["weights"]
        assert sum(hist["counts"]) == w.size and hist["lo"] == w.min() and hist["hi"] == w.max()
        assert len(hist["counts"]) == 16 and 0 < row["update_ratio"] < 1


def test_health_goes_with_train_frames(conn: Conn) -> None:
    conn.send({"type": "play", "mode": "train"})
    kinds = [conn.recv()["type"] for _ in range(200)]
    conn.send({"type": "pause"})
    assert "health" in kinds and "frame" in kinds
    assert kinds.count("health") <= kinds.count("frame")


def test_graph_of_one_unit_matches_the_engine(conn: Conn) -> None:
    doc = h.doc()
    conn.load(scenario=doc)
    conn.send({"type": "graph", "layer": 1, "unit": 2, "example": 3})
    e = valid(conn.until("graph"))
    t = h.trainer(doc)
    nodes, edges = unit_graph(t.net, t.x[3], t.y[3], t.loss, 1, 2)
    assert e["nodes"] == nodes and e["edges"] == edges and e["step"] == 0 and (e["layer"], e["unit"]) == (1, 2)


def test_graph_of_the_whole_network_and_its_limits(conn: Conn) -> None:
    conn.load(scenario=h.doc())
    conn.send({"type": "graph", "example": 0})
    e = valid(conn.until("graph"))
    assert e["layer"] is None and sum(n["op"] == "add" for n in e["nodes"]) == 4  # 3 hidden + 1 output
    for cmd, field in [
        ({"type": "graph", "layer": 3, "unit": 0}, "graph.layer"),
        ({"type": "graph", "layer": 1, "unit": 3}, "graph.unit"),
        ({"type": "graph", "layer": 1, "unit": 0, "example": 4}, "graph.example"),
        ({"type": "graph", "layer": 1}, "layer and unit"),
    ]:
        conn.send(cmd)
        err = conn.until("error")
        assert err["request"] == "graph" and field in err["message"], err
    conn.load(scenario=h.doc(layers=[2, 28, 1]))  # 31 units
    conn.send({"type": "graph"})
    assert "at most 30 units" in conn.until("error")["message"]


def test_gradcheck_and_slice_at_a_past_step_leave_the_cursor(conn: Conn) -> None:
    conn.load(preset="circle")
    conn.send({"type": "step", "count": 30})
    conn.until("state")
    conn.send({"type": "gradcheck", "step": 12})
    past = valid(conn.until("gradcheck"))
    conn.send({"type": "slice", "layer": 2, "to": 0, "from": 1, "step": 12, "points": 5})
    past_slice = valid(conn.until("slice"))
    assert conn.state()["step"] == 30  # the cursor stayed
    conn.send({"type": "seek", "step": 12})
    conn.until("state")
    conn.send({"type": "gradcheck"})
    here = conn.until("gradcheck")
    conn.send({"type": "slice", "layer": 2, "to": 0, "from": 1, "points": 5})
    here_slice = conn.until("slice")
    assert past["step"] == here["step"] == 12 and past["layers"] == here["layers"]
    assert past_slice == here_slice
    conn.send({"type": "gradcheck", "step": 31})
    err = conn.until("error")
    assert err["code"] == "out_of_history" and "gradcheck.step" in err["message"]


STEPPING = [{"type": "play", "mode": "animate", "speed": 120}, {"type": "epoch"}, {"type": "next"}]


@pytest.mark.parametrize("cmd", STEPPING)
def test_every_way_of_stepping_stops_at_a_step_breakpoint(conn: Conn, cmd: dict[str, Any]) -> None:
    conn.load(scenario=h.doc(batch_size=1))  # 4 steps an epoch
    conn.send({"type": "breakpoints", "on": [{"kind": "step", "step": 2}]})
    conn.until("state")
    for _ in range(1 if cmd["type"] != "next" else 2 * 8):
        conn.send(cmd)
    while True:
        e = conn.recv()
        if e["type"] == "state" and e["paused_reason"]:
            break
    assert e["paused_reason"]["kind"] == "step" and e["step"] == 2 and e["playing"] is None


@pytest.mark.parametrize("cmd", [{"type": "step"}, {"type": "next"}])
def test_a_single_step_after_a_hit_says_the_reason_is_gone(conn: Conn, cmd: dict[str, Any]) -> None:
    conn.load(scenario=h.doc(batch_size=1))
    conn.send({"type": "breakpoints", "on": [{"kind": "step", "step": 2}]})
    conn.until("state")
    conn.send({"type": "step", "count": 5})
    while not ((e := conn.recv())["type"] == "state" and e["paused_reason"]):
        pass
    conn.send(cmd)
    conn.send({"type": "graph", "layer": 1, "unit": 0, "example": 0})  # answered after the step
    states = []
    while (e := conn.recv())["type"] != "graph":
        states += [valid(e)] if e["type"] == "state" else []
    assert states and states[-1]["paused_reason"] is None and states[-1]["playing"] is None
