"""Every command over the websocket, against the engine and the headless trace."""

import asyncio
import copy
import json
import struct

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app import scenario as sc
from app.cli import trace
from app.protocol import encode
from tests.web.conftest import Conn

PHASES = ["batch", "forward", "forward", "output_error", "backward", "backward", "update", "update"]


def test_connect_sends_state_dataset_epoch_and_maps(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        c = Conn(ws)
        st = c.recv()
        assert st["type"] == "state" and st["step"] == 0 and st["scenario"]["name"] == "circle"
        assert st["phase"] == {"event": "batch", "layer": None}
        assert st["history"] == {"first": 0, "last": 0} and st["playing"] is None
        ds = c.recv()
        assert ds["type"] == "dataset" and len(ds["train"]["x"]) == 250 and len(ds["extent"]) == 4
        ep = c.recv()
        assert ep["type"] == "epoch" and (ep["epoch"], ep["step"]) == (0, 0)
        assert st["curve"] == [[0, 0, ep["train_loss"], ep["test_loss"], ep["train_accuracy"], ep["test_accuracy"]]]
        assert ws.receive()["bytes"][:4] == b"DFM1"  # a plane of 250 points: maps, no outputs


def test_outputs_follow_each_step(conn: Conn) -> None:
    conn.load("worked-example")
    conn.send({"type": "reset"})
    out = conn.until("outputs")
    assert out["step"] == 0 and out["y"][0] == pytest.approx([0.75136507, 0.772928465], abs=1e-8)
    conn.send({"type": "step"})
    after = conn.until("outputs")
    conn.send({"type": "step"})
    second = conn.until("output_error")  # the next forward pass sees the same weights
    assert after["step"] == 1 and after["y"] == second["output"]


def test_eight_next_commands_equal_the_trace(conn: Conn) -> None:
    conn.load("worked-example")
    expected = [e for e in trace(sc.preset("worked-example"), steps=1)][1:]  # drop the epoch-0 event
    got = []
    for _ in range(8):
        conn.send({"type": "next"})
        got.append(conn.recv())
    got.append(conn.recv())  # the epoch event that follows the step's last update
    assert [e["type"] for e in got[:8]] == PHASES
    assert got == [json.loads(encode(e)) for e in expected]
    out = got[3]
    assert out["output"][0][0] == pytest.approx(0.75136507, abs=1e-8) and out["loss"] == pytest.approx(0.298371109)
    assert got[7]["weights"][0][0] == pytest.approx(0.35891648, abs=1e-8)


def test_state_phase_follows_the_cursor(conn: Conn) -> None:
    conn.load("worked-example")
    for want in [("forward", 1), ("forward", 2), ("output_error", None), ("backward", 2)]:
        conn.send({"type": "next"})
        conn.recv()
        st = conn.state()
        assert (st["phase"]["event"], st["phase"]["layer"]) == want
        # mid-step the parameters are those before the update
        assert st["weights"][1][0] == [0.4, 0.45] and st["step"] == 0


def test_step_finishes_the_current_step(conn: Conn) -> None:
    conn.load("worked-example")
    conn.send({"type": "next"})
    conn.recv()
    conn.send({"type": "step"})
    rest = [conn.recv() for _ in range(8)]
    assert [e["type"] for e in rest] == PHASES[1:] + ["epoch"]
    assert conn.state()["step"] == 1


def test_step_count_sends_the_last_step_its_epoch_and_state(conn: Conn) -> None:
    conn.load("worked-example")  # one example: every step ends an epoch
    conn.send({"type": "step", "count": 5})
    events = conn.collect("state")
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [5]  # the last step's own; the curve has them all
    assert [e["type"] for e in events if e["type"] not in ("epoch", "state")] == PHASES
    assert all(e["step"] == 5 for e in events if e["type"] in PHASES)
    assert events[-1]["step"] == 5 and events[-1]["history"]["last"] == 5
    assert [row[1] for row in events[-1]["curve"]] == [0, 1, 2, 3, 4, 5]


def test_a_long_step_answers_in_bounded_size_and_keeps_its_answer(conn: Conn) -> None:
    conn.load("circle")  # 25 steps an epoch: 12,800 steps cross 512 epochs
    conn.send({"type": "step", "count": 12_800})
    events = conn.collect("state")
    kinds = [e["type"] for e in events if e["type"] != "progress"]
    assert kinds.count("epoch") == 1 and events[-1]["step"] == 12_800
    assert not [e for e in events if e["type"] == "error"]
    assert len(events[-1]["curve"]) >= 500  # every epoch crossed is in the learning curve


def test_epoch_runs_to_the_end_of_the_epoch(conn: Conn) -> None:
    st = conn.load("circle")  # 250 examples, batch 10: 25 steps an epoch
    assert st["step"] == 0
    conn.send({"type": "next"})
    conn.recv()
    conn.send({"type": "epoch"})
    e = conn.recv()
    assert e["type"] == "epoch" and e["epoch"] == 1 and e["step"] == 25
    assert 0 <= e["train_accuracy"] <= 1 and e["test_loss"] is not None
    assert conn.recv()["step"] == 25


def _weights_by_step(conn: Conn, steps: int) -> dict[int, list]:
    seen = {0: conn.state()["weights"]}
    for s in range(1, steps + 1):
        conn.send({"type": "step"})
        ups = [e for e in conn.collect("update") if e["type"] == "update"]
        while len(ups) < len(seen[0]):
            ups.append(conn.until("update"))
        seen[s] = [u["weights"] for u in ups]
    return seen


def test_seek_brings_back_exact_weights(conn: Conn) -> None:
    conn.load("circle")
    seen = _weights_by_step(conn, 33)  # past three checkpoints (every 10 steps)
    for s in (0, 1, 9, 10, 11, 27, 33, 5):
        conn.send({"type": "seek", "step": s})
        st = conn.until("state")
        assert st["step"] == s and st["weights"] == seen[s]


def test_stepping_after_seek_discards_the_future(conn: Conn) -> None:
    conn.load("worked-example")
    conn.send({"type": "step", "count": 20})
    conn.until("state")
    conn.send({"type": "seek", "step": 4})
    assert conn.until("state")["history"] == {"first": 0, "last": 20}  # seeking alone keeps it
    conn.send({"type": "step"})
    conn.until("epoch")
    st = conn.state()
    assert st["step"] == 5 and st["history"]["last"] == 5
    conn.send({"type": "seek", "step": 6})
    assert conn.until("error")["code"] == "out_of_history"


def test_reset_restores_the_initial_weights(conn: Conn) -> None:
    w0 = conn.load("circle")["weights"]
    conn.send({"type": "step", "count": 30})
    conn.until("state")
    conn.send({"type": "reset"})
    st = conn.until("state")
    assert st["step"] == 0 and st["weights"] == w0 and st["history"] == {"first": 0, "last": 0}


def test_set_changes_the_learning_rate_live(conn: Conn) -> None:
    conn.load("worked-example")
    conn.send({"type": "step"})
    conn.until("epoch")
    conn.send({"type": "set", "learning_rate": 0.1})
    st = conn.until("state")
    assert st["scenario"]["optimizer"]["learning_rate"] == 0.1 and st["step"] == 1
    conn.send({"type": "step"})
    events = conn.collect("epoch")
    g = next(e for e in events if e["type"] == "backward" and e["layer"] == 2)["grad_w"]
    dw = next(e for e in events if e["type"] == "update" and e["layer"] == 2)["dw"]
    assert np.allclose(dw, -0.1 * np.array(g), rtol=0, atol=1e-15)


def test_set_rejects_an_invalid_combination(conn: Conn) -> None:
    conn.load("circle")
    before = conn.state()
    conn.send({"type": "set", "optimizer": {"type": "lbfgs"}})
    err = conn.until("error")
    assert err["code"] == "invalid_command" and "batch_size" in err["message"]
    assert conn.state()["scenario"] == before["scenario"]


def test_set_weight_and_bias_are_recorded(conn: Conn) -> None:
    conn.load("worked-example")
    conn.send({"type": "step", "count": 3})
    conn.until("state")
    conn.send({"type": "set_weight", "layer": 2, "to": 0, "from": 1, "value": -1.25})
    st = conn.until("state")
    assert st["weights"][1][0][1] == -1.25 and st["history"]["last"] == 3
    conn.send({"type": "set_bias", "layer": 1, "unit": 1, "value": 0.5})
    assert conn.until("state")["biases"][0][1] == 0.5
    conn.send({"type": "step"})
    conn.until("epoch")
    conn.send({"type": "seek", "step": 3})
    st = conn.until("state")
    assert st["weights"][1][0][1] == -1.25 and st["biases"][0][1] == 0.5  # the edit is in history


def test_gradcheck_agrees(conn: Conn) -> None:
    conn.load("three-class")
    conn.send({"type": "gradcheck"})
    e = conn.until("gradcheck")
    assert e["max_rel_error"] < 1e-6 and [c["layer"] for c in e["layers"]] == [1, 2]
    assert np.allclose(e["layers"][0]["grad_w"], e["layers"][0]["numeric_w"], atol=1e-8)


def test_slice_has_the_gradient_as_its_slope(conn: Conn) -> None:
    conn.load("worked-example")
    conn.send({"type": "slice", "layer": 2, "to": 0, "from": 0, "span": 0.001, "points": 3})
    e = conn.until("slice")
    assert e["w"] == 0.4 and e["ws"][1] == 0.4 and e["costs"][1] == pytest.approx(e["cost"], abs=1e-15)
    slope = (e["costs"][2] - e["costs"][0]) / (e["ws"][2] - e["ws"][0])
    assert slope == pytest.approx(e["grad"], rel=1e-6) and e["grad"] == pytest.approx(0.082167041, abs=1e-9)


def test_select_sets_the_highlighted_example(conn: Conn) -> None:
    conn.load("circle")
    conn.send({"type": "select", "example": 7})
    assert conn.until("state")["selected"] == 7
    conn.send({"type": "select", "example": 10})
    assert conn.until("error")["code"] == "out_of_range"


def test_reconnect_keeps_the_session(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        c = Conn(ws)
        sid = c.until("state")["session"]
        c.send({"type": "step", "count": 3})
        c.until("state")
    with client.websocket_connect(f"/ws?session={sid}") as ws:
        st = Conn(ws).until("state")
        assert st["session"] == sid and st["step"] == 3
    with client.websocket_connect("/ws?session=nope") as ws:
        c = Conn(ws)
        assert c.until("state")["session"] != "nope"
        assert c.until("error")["code"] == "unknown_session"


def test_play_animate_paces_phase_events(conn: Conn) -> None:
    conn.load("worked-example")
    conn.send({"type": "play", "mode": "animate", "speed": 100})
    assert conn.until("state")["playing"] == "animate"
    kinds = [conn.recv()["type"] for _ in range(8)]
    assert kinds == PHASES
    st = conn.state()
    assert st["playing"] is None


def test_play_train_sends_frames_with_maps(conn: Conn) -> None:
    conn.load("circle")
    conn.binary.clear()
    conn.send({"type": "play", "mode": "train", "fps": 60})
    frames = [conn.until("frame") for _ in range(3)]
    conn.send({"type": "pause"})
    st = conn.until("state")
    assert st["playing"] is None and st["step"] >= frames[-1]["step"] > frames[0]["step"]
    f = frames[-1]
    assert [len(a) for a in f["a"]] == [2, 4, 2, 1] and f["outputs"] is None
    assert f["a"][-1][0] == pytest.approx(float(np.tanh(np.dot(f["weights"][2][0], f["a"][2]) + f["biases"][2][0])))
    assert len(f["weights"]) == 3 and len(f["grad_norms"]) == 3 and 0 <= f["train_accuracy"] <= 1
    maps = {struct.unpack_from("<I", b, 4)[0]: b for b in conn.binary}
    blob = maps[f["maps"]]
    magic, seq, step, count, _ = struct.unpack_from("<4sIIHH", blob)
    assert (magic, seq, step, count) == (b"DFM1", f["maps"], f["step"], 4 + 2 + 1)
    layer, unit, res, _, lo, hi = struct.unpack_from("<HHHHff", blob, 16)
    assert (layer, unit, res) == (1, 0, 50) and -1 <= lo <= hi <= 1
    assert len(blob) == 16 + 6 * (16 + 2500) + (16 + 10000)


def test_divergence_pauses_with_a_reason(conn: Conn) -> None:
    doc = copy.deepcopy(sc.preset("regression-sine"))
    doc.update(activations=["linear", "linear"], optimizer={"type": "sgd", "learning_rate": 100})
    conn.load(scenario=doc)
    conn.send({"type": "step", "count": 200})
    st = conn.until("state")
    assert st["paused_reason"]["kind"] == "nonfinite" and "diverged" in st["paused_reason"]["message"]
    assert all(np.isfinite(np.array(w, dtype=float)).all() for w in st["weights"])
    conn.send({"type": "play", "mode": "train"})
    conn.until("state")
    st = conn.until("state")
    assert st["playing"] is None and "diverged" in st["paused_reason"]["message"]


@pytest.mark.parametrize("cmd", [{"type": "epoch"}, {"type": "step", "count": 3}], ids=["epoch", "step"])
def test_going_on_after_seek_also_cuts_the_learning_curve(conn: Conn, cmd: dict) -> None:
    conn.load("worked-example")  # every step ends an epoch, so every step adds a curve row
    conn.send({"type": "step", "count": 20})
    assert [r[0] for r in conn.until("state")["curve"]] == list(range(21))
    conn.send({"type": "seek", "step": 4})
    conn.until("state")
    conn.send(cmd)
    st = conn.until("state")
    last = st["history"]["last"]
    assert last == st["step"] and [r[0] for r in st["curve"]] == list(range(last + 1))


def test_a_member_that_takes_its_frames_keeps_the_run_training() -> None:
    from app.session.outbox import Outbox
    from app.session.scheduler import Scheduler
    from app.session.session import Options, Session

    async def run() -> Session:
        s = Session("t", sc.preset("circle"), Options(), Scheduler())
        box = Outbox()
        s.attach(box)
        s.playing, s.fps = "train", 30
        for _ in range(5):
            s.next_frame = 0.0
            s.train_slice()
            if s.unread_since is not None:
                s.unread_since -= 0.5  # half a second between frames
            await box.take()  # read: the next frame finds nothing waiting
        return s

    s = asyncio.run(run())
    assert s.playing == "train" and s.paused_reason is None


def test_a_session_whose_frames_nobody_reads_stops_training() -> None:
    from app.session.outbox import Outbox
    from app.session.scheduler import Scheduler
    from app.session.session import Options, Session

    async def run() -> Session:
        s = Session("t", sc.preset("circle"), Options(), Scheduler())
        s.attach(Outbox())  # a member that never takes anything
        s.playing, s.fps = "train", 30
        for _ in range(3):  # frames, none taken: not yet a second
            s.next_frame = 0.0
            s.train_slice()
        assert s.playing == "train" and s.unread_since is not None
        s.unread_since -= 1.0  # as if the first had been put a second ago
        s.next_frame = 0.0
        s.train_slice()
        return s

    s = asyncio.run(run())
    assert s.playing is None and s.paused_reason is not None
    assert s.paused_reason["kind"] == "unread" and "no one has read" in s.paused_reason["message"]
