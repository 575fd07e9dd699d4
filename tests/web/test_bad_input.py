"""Every class of bad input answers `error`, names the problem, and changes nothing."""

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app import scenario as sc
from tests.web.conftest import Conn


def big_scenario(**change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(sc.preset("circle"))
    doc.update(change)
    return doc


BAD: list[tuple[str, str, str, str]] = [
    # (id, message text, code, a fragment of the message)
    ("malformed", '{"type": "next"', "invalid_json", "not valid JSON"),
    ("not-an-object", "[1, 2, 3]", "invalid_json", "JSON object"),
    ("string", '"next"', "invalid_json", "JSON object"),
    ("nan-literal", '{"type": "set", "learning_rate": NaN}', "invalid_json", "not valid JSON"),
    ("infinite", '{"type": "set_weight", "layer": 1, "to": 0, "from": 0, "value": 1e999}', "invalid_json", "infinity"),
    ("unknown-type", '{"type": "fly"}', "unknown_type", "unknown command type 'fly'"),
    ("no-type", '{"count": 1}', "unknown_type", "unknown command type None"),
    ("extra-field", '{"type": "next", "x": 1}', "invalid_command", "next.x"),
    ("negative-seek", '{"type": "seek", "step": -1}', "invalid_command", "seek.step"),
    ("negative-count", '{"type": "step", "count": -5}', "invalid_command", "step.count"),
    ("huge-count", '{"type": "step", "count": 1000000000}', "invalid_command", "step.count"),
    (
        "huge-weight",
        '{"type": "set_weight", "layer": 1, "to": 0, "from": 0, "value": 1e300}',
        "invalid_command",
        "value",
    ),
    ("negative-lr", '{"type": "set", "learning_rate": -0.1}', "invalid_command", "set.learning_rate"),
    ("huge-lr", '{"type": "set", "learning_rate": 1000}', "invalid_command", "set.learning_rate"),
    ("string-lr", '{"type": "set", "learning_rate": "fast"}', "invalid_command", "set.learning_rate"),
    ("fps", '{"type": "play", "mode": "train", "fps": 500}', "invalid_command", "play.fps"),
    ("mode", '{"type": "play", "mode": "warp"}', "invalid_command", "play.mode"),
    (
        "weight-index",
        '{"type": "set_weight", "layer": 1, "to": 9, "from": 0, "value": 1}',
        "out_of_range",
        "set_weight.to",
    ),
    (
        "weight-from",
        '{"type": "set_weight", "layer": 1, "to": 0, "from": 2, "value": 1}',
        "out_of_range",
        "set_weight.from",
    ),
    (
        "weight-layer",
        '{"type": "set_weight", "layer": 4, "to": 0, "from": 0, "value": 1}',
        "out_of_range",
        "set_weight.layer",
    ),
    ("bias-unit", '{"type": "set_bias", "layer": 3, "unit": 1, "value": 1}', "out_of_range", "set_bias.unit"),
    ("slice-layer", '{"type": "slice", "layer": 5, "to": 0, "from": 0}', "out_of_range", "slice.layer"),
    (
        "slice-points",
        '{"type": "slice", "layer": 1, "to": 0, "from": 0, "points": 2}',
        "invalid_command",
        "slice.points",
    ),
    ("seek-future", '{"type": "seek", "step": 99}', "out_of_history", "outside the history"),
    ("select", '{"type": "select", "example": 10}', "out_of_range", "select.example"),
    ("preset", '{"type": "load", "preset": "nope"}', "unknown_preset", "no preset 'nope'"),
    ("load-both", '{"type": "load"}', "invalid_command", "exactly one"),
    ("load-list", '{"type": "load", "scenario": [1, 2]}', "invalid_command", "load.scenario"),
]


SCENARIOS = [
    ("units-over-limit", big_scenario(layers=[2, 65, 1], activations=["tanh", "tanh"]), "less than or equal to 64"),
    ("layers-over-limit", big_scenario(layers=[2] + [3] * 10 + [1], activations=["tanh"] * 11), "at most 10"),
    ("examples-over-limit", big_scenario(data={"generator": "circle", "samples": 10001}), "data.samples"),
    ("wrong-weight-shape", big_scenario(weights=[[[1.0]], [[1.0]], [[1.0]]]), "weights[0]"),
    ("activation-count", big_scenario(activations=["tanh"]), "activations"),
    ("negative-noise", big_scenario(data={"generator": "circle", "noise": -1}), "data.noise"),
    ("huge-value", big_scenario(init={"scheme": "uniform", "bias": 1e9}), "init.bias"),
]


@pytest.mark.parametrize("text,code,fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_command(conn: Conn, text: str, code: str, fragment: str) -> None:
    before = conn.state()
    conn.ws.send_text(text)
    err = conn.until("error")
    assert err["code"] == code and fragment in err["message"], err
    after = conn.state()
    assert after == before


@pytest.mark.parametrize("doc,fragment", [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_bad_scenario(conn: Conn, doc: Any, fragment: str) -> None:
    before = conn.state()
    conn.send({"type": "load", "scenario": doc})
    err = conn.until("error")
    assert err["code"] == "invalid_scenario" and fragment in err["message"], err
    assert err["request"] == "load"
    assert conn.state() == before


def test_bad_input_while_training_keeps_training(conn: Conn) -> None:
    conn.send({"type": "play", "mode": "train"})
    conn.until("frame")
    conn.send({"type": "load", "preset": "nope"})
    assert conn.until("error")["code"] == "unknown_preset"
    frame = conn.until("frame")
    assert conn.until("frame")["step"] > frame["step"]
    conn.send({"type": "pause"})
    conn.until("state")


def test_a_message_over_1_mib_closes_only_that_connection(client: TestClient) -> None:
    with client.websocket_connect("/ws") as other:
        Conn(other).until("epoch")
        with client.websocket_connect("/ws") as ws:
            c = Conn(ws)
            c.until("epoch")
            ws.send_text(json.dumps({"type": "load", "scenario": {"pad": "x" * (2**20 + 10)}}))
            with pytest.raises(WebSocketDisconnect) as closed:
                while True:
                    c.recv()
            assert closed.value.code == 1009
        o = Conn(other)
        o.send({"type": "step"})
        assert o.state()["step"] == 1


def test_cross_entropy_targets_must_be_probabilities(conn: Conn) -> None:
    doc = copy.deepcopy(sc.preset("and-gate"))
    doc["data"] = {"train": {"x": [[0.0, 1.0]], "y": [[2.0]]}}
    conn.send({"type": "load", "scenario": doc})
    err = conn.until("error")
    assert "data.train.y" in err["message"] and "between 0 and 1" in err["message"]
