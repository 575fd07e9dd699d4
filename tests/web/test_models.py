"""GET /api/sessions/ID/export and POST /api/sessions/ID/import against a live session."""

import io
import pickle

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app import modelio
from app import scenario as sc
from app.nn.network import Network
from tests.web.conftest import Conn


def net_of(state: dict) -> Network:
    acts = state["scenario"]["activations"]
    return Network(state["scenario"]["layers"], acts, [np.array(w) for w in state["weights"]], state["biases"])


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_the_export_holds_the_weights_shown(client: TestClient, conn: Conn, fmt: str) -> None:
    conn.load("spiral")
    conn.send({"type": "step", "count": 7})
    state = conn.until("state")
    sid = state["session"]
    r = client.get(f"/api/sessions/{sid}/export", params={"format": fmt})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert r.headers["content-disposition"].endswith(f'spiral{modelio.SUFFIX[fmt]}"')
    found = modelio.read(r.content, f"x.{fmt}")
    for l, (w, b) in enumerate(zip(state["weights"], state["biases"]), start=1):
        np.testing.assert_array_equal(found[f"W{l}"], np.array(w))
        np.testing.assert_array_equal(found[f"b{l}"], np.array(b))


def test_the_export_during_a_step_is_of_the_step_before(client: TestClient, conn: Conn) -> None:
    state = conn.load("xor")
    conn.send({"type": "next"})  # the batch: the step is computed but not yet shown
    conn.until("batch")
    found = modelio.read(client.get(f"/api/sessions/{state['session']}/export?format=npz").content)
    np.testing.assert_array_equal(found["W1"], np.array(state["weights"][0]))


@pytest.mark.parametrize("fmt", ["torch", "numpy"])
def test_scripts_are_served_as_python(client: TestClient, conn: Conn, fmt: str) -> None:
    sid = conn.load("xor")["session"]
    r = client.get(f"/api/sessions/{sid}/export?format={fmt}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/x-python")
    compile(r.text, "model.py", "exec")  # valid Python


def test_unknown_sessions_and_formats_are_refused(client: TestClient, conn: Conn) -> None:
    assert client.get("/api/sessions/nope/export").status_code == 404
    sid = conn.load("xor")["session"]
    r = client.get(f"/api/sessions/{sid}/export?format=onnx")
    assert r.status_code == 422 and "safetensors" in r.text


def test_import_replaces_the_weights_and_starts_a_branch(client: TestClient, conn: Conn) -> None:
    state = conn.load("xor")
    sid = state["session"]
    conn.send({"type": "step", "count": 5})
    conn.until("state")
    net = net_of(state)
    new = {k: v * -2.0 for k, v in modelio.tensors(net).items()}
    r = client.post(f"/api/sessions/{sid}/import?name=w.npz", content=npz(new))
    assert r.status_code == 200, r.text
    assert r.json() == {"step": 5, "tensors": {"W1": [2, 2], "b1": [2], "W2": [1, 2], "b2": [1]}}
    after = conn.until("state")
    assert after["step"] == 5 and after["history"]["last"] == 5
    np.testing.assert_array_equal(np.array(after["weights"][0]), new["W1"])
    np.testing.assert_array_equal(np.array(after["biases"][1]), new["b2"])


def test_an_import_of_the_wrong_shape_names_each_tensor_and_changes_nothing(client: TestClient, conn: Conn) -> None:
    state = conn.load("xor")  # 2-2-1
    other = sc.build(sc.parse(sc.preset("circle"))).trainer.net
    r = client.post(f"/api/sessions/{state['session']}/import?name=circle.safetensors", content=export(other))
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("circle.safetensors: W1: shape") and "but this network needs 2x2" in detail
    assert "b1: shape" in detail and "W2: shape" in detail
    assert conn.state()["weights"] == state["weights"]


def test_pickles_are_refused_and_say_why(client: TestClient, conn: Conn) -> None:
    sid = conn.load("xor")["session"]
    for name, data in (("model.pt", npz({"W1": np.ones(2)})), ("w.bin", pickle.dumps({"W1": 1}))):
        r = client.post(f"/api/sessions/{sid}/import?name={name}", content=data)
        assert r.status_code == 422 and "loading a pickle can run any code" in r.json()["detail"]
    r = client.post(f"/api/sessions/{sid}/import", content=b"not a model")
    assert r.status_code == 422 and "neither safetensors nor .npz" in r.json()["detail"]


def test_import_is_bounded_by_the_upload_limit(client: TestClient, conn: Conn) -> None:
    sid = conn.load("xor")["session"]
    limit = client.app.state.settings.max_upload_bytes  # type: ignore[attr-defined]
    r = client.post(f"/api/sessions/{sid}/import", content=b"\0" * (limit + 1))
    assert r.status_code == 413


def npz(tensors: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **tensors)
    return buf.getvalue()


def export(net: Network) -> bytes:
    return modelio.export(net, "safetensors")
