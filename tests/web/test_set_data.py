"""`set_data`: a point added or removed keeps the weights, the step and the history, like a
weight edit; seek crosses the edit exactly; refused data changes nothing."""

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app import scenario as sc
from tests.web.conftest import Conn
from tests.web.test_rooms import open_room, viewer

NEW_POINT = ([0.1, -0.2], [1.0])


def circle_data(conn: Conn) -> dict[str, Any]:
    """The circle's data as the page has it (the dataset event), with one point added."""
    conn.send({"type": "load", "preset": "circle"})
    conn.until("state")
    ds = conn.until("dataset")
    return {
        "train": {"x": [*ds["train"]["x"], NEW_POINT[0]], "y": [*ds["train"]["y"], NEW_POINT[1]]},
        "test": {"x": ds["test"]["x"], "y": ds["test"]["y"]},
    }


def fresh(data: dict[str, Any] | None, before: int, after: int) -> list[np.ndarray]:
    """The circle run on its own, outside any session: `before` steps, then `data` (if any)
    in place of its own, then `after` steps. Its parameters [W1, b1, ...]."""
    s = sc.parse(sc.preset("circle"))
    t = sc.build(s).trainer
    for _ in range(before):
        t.step()
    if data is not None:
        arr = lambda part, k: np.array(data[part][k], dtype=np.float64)  # noqa: E731
        t.set_data(arr("train", "x"), arr("train", "y"), arr("test", "x"), arr("test", "y"))
    for _ in range(after):
        t.step()
    return t.net.get()


def params(st: dict[str, Any]) -> list[np.ndarray]:
    return [np.array(a) for pair in zip(st["weights"], st["biases"]) for a in pair]


def bit_identical(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(a, b))


def test_set_data_keeps_weights_step_and_history(conn: Conn) -> None:
    data = circle_data(conn)
    conn.send({"type": "step", "count": 7})
    before = conn.until("state")
    conn.send({"type": "set_data", "data": data})
    st = conn.until("state")
    ds = conn.until("dataset")
    assert st["step"] == 7 and st["history"] == before["history"]
    assert st["weights"] == before["weights"] and st["biases"] == before["biases"]
    assert len(st["scenario"]["data"]["train"]["x"]) == 251 and st["scenario"]["data"]["train"]["x"][-1] == [0.1, -0.2]
    assert len(ds["train"]["x"]) == 251 and ds["train"]["y"][-1] == [1.0]
    assert st["curve"][-1][0] == 7  # the losses on the new data, at this step
    # the next step goes on from step 7 on the new data
    conn.send({"type": "step"})
    assert conn.until("update")["step"] == 8


def test_seek_across_the_edit_replays_with_the_data_of_then(conn: Conn) -> None:
    data = circle_data(conn)
    conn.send({"type": "step", "count": 20})
    conn.until("state")
    conn.send({"type": "set_data", "data": data})
    conn.until("dataset")
    conn.send({"type": "step", "count": 15})
    end = conn.until("state")
    assert end["step"] == 35 and bit_identical(params(end), fresh(data, 20, 15))
    # the data changes the run: without the edit, step 35 would be elsewhere
    assert not bit_identical(params(end), fresh(None, 35, 0))
    conn.send({"type": "seek", "step": 12})
    st = conn.until("state")
    assert bit_identical(params(st), fresh(None, 12, 0))
    assert st["scenario"]["data"]["generator"] == "circle"  # the data of then
    assert len(conn.until("dataset")["train"]["x"]) == 250
    conn.send({"type": "seek", "step": 31})
    st = conn.until("state")
    assert bit_identical(params(st), fresh(data, 20, 11))
    assert len(conn.until("dataset")["train"]["x"]) == 251
    # stepping on after a seek before the edit forgets the edit, and the new data with it
    conn.send({"type": "seek", "step": 5})
    conn.until("dataset")
    conn.send({"type": "step", "count": 30})
    st = conn.until("state")
    assert st["history"]["last"] == 35 and bit_identical(params(st), fresh(None, 35, 0))


def test_gradcheck_and_slice_at_a_step_before_the_edit_use_its_data(conn: Conn) -> None:
    data = circle_data(conn)
    conn.send({"type": "step", "count": 4})
    conn.until("state")
    conn.send({"type": "slice", "layer": 1, "to": 0, "from": 0, "points": 3, "span": 0.1})
    old = conn.until("slice")
    data["train"]["x"][40:50] = [[3.0, 3.0]] * 10  # the batch of step 5 (rows 40–49) changes
    conn.send({"type": "set_data", "data": data})
    conn.until("dataset")
    conn.send({"type": "slice", "layer": 1, "to": 0, "from": 0, "points": 3, "span": 0.1})
    new = conn.until("slice")
    assert new["cost"] != old["cost"]
    conn.send({"type": "step", "count": 2})
    conn.until("state")
    conn.send({"type": "slice", "layer": 1, "to": 0, "from": 0, "points": 3, "span": 0.1, "step": 3})
    at3 = conn.until("slice")
    conn.send({"type": "seek", "step": 3})
    conn.until("state")
    conn.send({"type": "slice", "layer": 1, "to": 0, "from": 0, "points": 3, "span": 0.1})
    assert conn.until("slice")["cost"] == at3["cost"]


BAD = [
    ("width", lambda d: d["train"]["x"].__setitem__(3, [1.0, 2.0, 3.0]), "data.train.x"),
    ("bool", lambda d: d["train"]["x"].__setitem__(5, [True, 0.0]), "data.train.x[5][0]"),
    ("string", lambda d: d["train"]["y"].__setitem__(2, ["1"]), "data.train.y[2][0]"),
    ("big", lambda d: d["train"]["x"].__setitem__(4, [2e6, 0.0]), "data.train.x[4][0]"),
    ("rows", lambda d: d["train"]["y"].pop(), "x has 251 rows but y has 250"),
    ("targets", lambda d: d["train"].__setitem__("y", [[1.0, 0.0]] * 251), "data.train.y"),
    ("empty", lambda d: d.__setitem__("train", {"x": [], "y": []}), "data.train"),
    ("extra", lambda d: d.__setitem__("labels", [1]), "data.labels"),
    ("too-many", lambda d: d["train"].update(x=[[0.0, 0.0]] * 10_001, y=[[1.0]] * 10_001), "at most 10000 examples"),
]


@pytest.mark.parametrize("case", BAD, ids=[b[0] for b in BAD])
def test_refused_data_names_the_problem_and_changes_nothing(conn: Conn, case: Any) -> None:
    _, spoil, where = case
    data = circle_data(conn)
    conn.send({"type": "step", "count": 3})
    before = conn.until("state")
    spoil(data)
    conn.send({"type": "set_data", "data": data})
    err = conn.until("error")
    assert err["code"] == "invalid_command" and err["request"] == "set_data" and where in err["message"]
    after = conn.state()
    assert after["scenario"] == before["scenario"] and after["weights"] == before["weights"]
    assert after["history"] == before["history"]


def test_set_data_needs_data(conn: Conn) -> None:
    conn.send({"type": "set_data"})
    err = conn.until("error")
    assert err["code"] == "invalid_command" and "data" in err["message"]
    conn.send({"type": "set_data", "data": [[0, 1]]})
    assert conn.until("error")["code"] == "invalid_command"


def test_a_viewer_may_not_edit_the_rooms_data(client: TestClient) -> None:
    room = open_room(client, preset="circle")
    with client.websocket_connect(f"/ws?room={room['room']}") as vw:
        v, _ = viewer(vw)
        v.send({"type": "set_data", "data": {"train": {"x": [[0.0, 0.0]], "y": [[1.0]]}}})
        assert v.until("error")["code"] == "read_only"
        v.send({"type": "ping"})
        assert [e["type"] for e in v.collect("pong")] == ["pong"]  # no new state, no new dataset
