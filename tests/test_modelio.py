"""Export runs: each format's outputs against the engine's; import: round trips and refusals."""

import importlib.util
import io
import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

from app import modelio
from app import scenario as sc
from app.nn.network import Network

ACTS = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"]


def trained(name: str, steps: int = 30) -> Network:
    t = sc.build(sc.parse(sc.preset(name))).trainer
    for _ in range(steps):
        t.step()
    return t.net


def every_activation() -> Network:
    """A 3-4-4-4-4-4-3 network through every activation, with weights from a seed."""
    rng = np.random.default_rng(7)
    layers = [3, 4, 4, 4, 4, 4, 3]
    ws = [rng.normal(0, 1.5, (layers[l + 1], layers[l])) for l in range(6)]
    bs = [rng.normal(0, 0.5, layers[l + 1]) for l in range(6)]
    return Network(layers, ACTS, ws, bs)


def inputs(net: Network) -> np.ndarray:
    return np.random.default_rng(3).normal(0, 2, (25, net.layers[0]))


def run_script(tmp_path: Path, source: bytes, x: np.ndarray) -> np.ndarray:
    script = tmp_path / "model.py"
    script.write_bytes(source)
    out = subprocess.run(
        [sys.executable, str(script)], input=json.dumps(x.tolist()), capture_output=True, text=True, check=True
    )
    return np.array(json.loads(out.stdout))


NETS = [pytest.param(every_activation, id="every-activation"), pytest.param(lambda: trained("spiral"), id="spiral")]


@pytest.mark.parametrize("make", NETS)
def test_the_numpy_script_reproduces_the_engine(make, tmp_path: Path) -> None:
    net = make()
    x = inputs(net)
    got = run_script(tmp_path, modelio.export(net, "numpy"), x)
    np.testing.assert_allclose(got, net.predict(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("make", NETS)
def test_the_torch_script_reproduces_the_engine_in_float32(make, tmp_path: Path) -> None:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed here; the exported script needs it to run")
    net = make()
    x = inputs(net)
    got = run_script(tmp_path, modelio.export(net, "torch"), x)
    np.testing.assert_allclose(got, net.predict(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("make", NETS)
def test_npz_and_safetensors_hold_the_exact_weights(make) -> None:
    net = make()
    x = inputs(net)
    for fmt in ("npz", "safetensors"):
        found = modelio.read(modelio.export(net, fmt), f"model.{fmt}")
        assert sorted(found) == sorted(f"{k}{l}" for l in range(1, net.depth + 1) for k in "Wb")
        again = Network(net.layers, net.activations, found_ws(found, net.depth), found_bs(found, net.depth))
        np.testing.assert_allclose(again.predict(x), net.predict(x), rtol=0, atol=1e-12)
        assert all(found[f"W{l}"].dtype == np.float64 for l in range(1, net.depth + 1))


def found_ws(found: dict[str, np.ndarray], depth: int) -> list[np.ndarray]:
    return [found[f"W{l}"] for l in range(1, depth + 1)]


def found_bs(found: dict[str, np.ndarray], depth: int) -> list[np.ndarray]:
    return [found[f"b{l}"] for l in range(1, depth + 1)]


def test_safetensors_carries_the_shape_in_its_metadata() -> None:
    net = trained("xor", 0)
    data = modelio.export(net, "safetensors")
    size = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8 : 8 + size])["__metadata__"]
    assert json.loads(meta["layers"]) == net.layers and json.loads(meta["activations"]) == net.activations


def test_an_unknown_format_is_named() -> None:
    with pytest.raises(ValueError, match="'onnx' is none of safetensors, npz, torch, numpy"):
        modelio.export(trained("xor", 0), "onnx")


def test_fit_puts_the_tensors_in_parameter_order() -> None:
    net = trained("spiral", 5)
    params = modelio.fit(modelio.read(modelio.export(net, "npz")), net.layers)
    assert len(params) == len(net.params)
    for p, q in zip(params, net.params):
        np.testing.assert_array_equal(p, q)


def test_shape_mismatches_are_named_per_tensor() -> None:
    t = modelio.tensors(trained("xor", 0))  # a 2-2-1 network into a 2-3-1
    with pytest.raises(modelio.WeightsError) as e:
        modelio.fit(t, [2, 3, 1])
    msg = str(e.value)
    assert "W1: shape 2x2, but this network needs 3x2" in msg
    assert "b1: shape (2,), but this network needs (3,)" in msg
    assert "W2: shape 1x2, but this network needs 1x3" in msg and "b2" not in msg


def test_missing_extra_and_nonfinite_tensors_are_named() -> None:
    good = {"W1": np.ones((1, 2)), "b1": np.zeros(1)}
    assert len(modelio.fit(good, [2, 1])) == 2
    with pytest.raises(modelio.WeightsError, match=r"b1: missing \(needs shape \(1,\)\)"):
        modelio.fit({"W1": np.ones((1, 2))}, [2, 1])
    with pytest.raises(modelio.WeightsError, match="W9: no such parameter"):
        modelio.fit({**good, "W9": np.ones(1)}, [2, 1])
    with pytest.raises(modelio.WeightsError, match="W1: holds NaN or infinity"):
        modelio.fit({**good, "W1": np.array([[1.0, np.inf]])}, [2, 1])
    with pytest.raises(modelio.WeightsError, match="b1: holds a value beyond"):
        modelio.fit({**good, "b1": np.array([2e6])}, [2, 1])
    with pytest.raises(modelio.WeightsError, match="W1: holds"):
        modelio.fit({**good, "W1": np.array([["a", "b"]])}, [2, 1])


def test_pickles_are_refused_with_the_reason() -> None:
    data = pickle.dumps({"W1": [[1.0]]})
    for name in ("model.pt", "model.pkl", "weights.pth"):
        with pytest.raises(modelio.WeightsError, match="loading a pickle can run any code"):
            modelio.read(modelio.export(trained("xor", 0), "npz"), name)
    with pytest.raises(modelio.WeightsError, match="loading a pickle can run any code"):
        modelio.read(data, "weights")


def test_a_zip_with_a_pickle_inside_is_refused_unread() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:  # the layout of torch.save
        z.writestr("archive/data.pkl", pickle.dumps({"x": 1}))
    with pytest.raises(modelio.WeightsError, match="PyTorch checkpoint"):
        modelio.read(buf.getvalue(), "weights.zip")


def test_an_npz_of_objects_is_not_unpickled() -> None:
    buf = io.BytesIO()
    np.savez(buf, W1=np.array([{"a": 1}], dtype=object))
    with pytest.raises(modelio.WeightsError, match="never done"):
        modelio.read(buf.getvalue(), "w.npz")


@pytest.mark.parametrize("data", [b"", b"hello world", b"PK\x03\x04broken", b"\x08\x00\x00\x00\x00\x00\x00\x00{bad"])
def test_unreadable_files_are_refused(data: bytes) -> None:
    with pytest.raises(modelio.WeightsError):
        modelio.read(data, "x")


def test_safetensors_written_elsewhere_is_read() -> None:
    data = safetensors.numpy.save({"W1": np.ones((1, 2), dtype=np.float32), "b1": np.zeros(1, dtype=np.float32)})
    params = modelio.fit(modelio.read(data), [2, 1])
    assert params[0].dtype == np.float64 and params[0].tolist() == [[1.0, 1.0]]
