"""Shared by the engine, scenario and CLI tests: small scenario documents and the worked example by hand."""

import copy
import math
from typing import Any

from app import scenario as sc
from app.nn.trainer import Trainer

# the four truth-table rows; targets are set per test
GATE_X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]


def doc(**changes: Any) -> dict[str, Any]:
    """A small valid scenario (2-3-1 on the XOR table, given data), with `changes` applied on top."""
    d: dict[str, Any] = {
        "layers": [2, 3, 1],
        "activations": ["tanh", "sigmoid"],
        "loss": "squared_error",
        "optimizer": {"type": "sgd", "learning_rate": 0.5},
        "batch_size": 4,
        "seed": 1,
        "data": {"train": {"x": copy.deepcopy(GATE_X), "y": [[0.0], [1.0], [1.0], [0.0]]}},
    }
    d.update(copy.deepcopy(changes))
    return d


def on_points(x: list[list[float]], y: list[list[float]], **changes: Any) -> dict[str, Any]:
    """doc() on the given points x, y, with layers sized to them unless `changes` says otherwise."""
    return doc(**{"layers": [len(x[0]), 3, len(y[0])], "data": {"train": {"x": x, "y": y}}, **changes})


def trainer(d: dict[str, Any]) -> Trainer:
    return sc.build(sc.parse(d)).trainer


# --- the worked example ----------------------------------------------------------------------
# the classic 2-2-2 example to the digits it was published with (hidden deltas are the products
# of its published partials, e.g. 0.036350306 * 0.241300709 for h1)
PUBLISHED = {
    "out_h1": 0.593269992,
    "out_h2": 0.596884378,
    "out_o1": 0.75136507,
    "out_o2": 0.772928465,
    "error": 0.298371109,
    "delta_o1": 0.138498562,
    "delta_o2": -0.0380982366,
    "delta_h1": 0.00877135,
    "w1": 0.149780716,
    "w2": 0.19956143,
    "w3": 0.24975114,
    "w4": 0.29950229,
    "w5": 0.35891648,
    "w6": 0.408666186,
    "w7": 0.511301270,
    "w8": 0.561370121,
}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def worked_by_hand() -> dict[str, float]:
    """One step of the worked example in plain floats, written out unit by unit."""
    i1, i2, t1, t2, lr = 0.05, 0.10, 0.01, 0.99, 0.5
    w1, w2, w3, w4, w5, w6, w7, w8 = 0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55
    b1, b2 = 0.35, 0.60
    # forward pass
    h1 = _sigmoid(w1 * i1 + w2 * i2 + b1)
    h2 = _sigmoid(w3 * i1 + w4 * i2 + b1)
    o1 = _sigmoid(w5 * h1 + w6 * h2 + b2)
    o2 = _sigmoid(w7 * h1 + w8 * h2 + b2)
    error = 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2
    # output deltas dE/dnet_o = (o - t) o (1 - o)
    d_o1 = (o1 - t1) * o1 * (1 - o1)
    d_o2 = (o2 - t2) * o2 * (1 - o2)
    # hidden deltas use the output weights from before the update
    d_h1 = (d_o1 * w5 + d_o2 * w7) * h1 * (1 - h1)
    d_h2 = (d_o1 * w6 + d_o2 * w8) * h2 * (1 - h2)
    return {
        "out_h1": h1,
        "out_h2": h2,
        "out_o1": o1,
        "out_o2": o2,
        "error": error,
        "delta_o1": d_o1,
        "delta_o2": d_o2,
        "delta_h1": d_h1,
        "delta_h2": d_h2,
        "w1": w1 - lr * d_h1 * i1,
        "w2": w2 - lr * d_h1 * i2,
        "w3": w3 - lr * d_h2 * i1,
        "w4": w4 - lr * d_h2 * i2,
        "w5": w5 - lr * d_o1 * h1,
        "w6": w6 - lr * d_o1 * h2,
        "w7": w7 - lr * d_o2 * h1,
        "w8": w8 - lr * d_o2 * h2,
        "b_h1": b1 - lr * d_h1,
        "b_h2": b1 - lr * d_h2,
        "b_o1": b2 - lr * d_o1,
        "b_o2": b2 - lr * d_o2,
    }


def worked_from_events(events: list[dict[str, Any]]) -> dict[str, float]:
    """The same quantities read off one traced step's events (engine or CLI), by the same names."""
    by = {(e["type"], e.get("layer")): e for e in events}
    a1, a2 = by[("forward", 1)]["a"][0], by[("forward", 2)]["a"][0]
    d1, d2 = by[("backward", 1)]["delta"][0], by[("backward", 2)]["delta"][0]
    (w1, w2), (w3, w4) = by[("update", 1)]["weights"]
    (w5, w6), (w7, w8) = by[("update", 2)]["weights"]
    bh, bo = by[("update", 1)]["biases"], by[("update", 2)]["biases"]
    named = {
        "out_h1": a1[0],
        "out_h2": a1[1],
        "out_o1": a2[0],
        "out_o2": a2[1],
        "error": by[("output_error", None)]["loss"],
        "delta_o1": d2[0],
        "delta_o2": d2[1],
        "delta_h1": d1[0],
        "delta_h2": d1[1],
        "w1": w1,
        "w2": w2,
        "w3": w3,
        "w4": w4,
        "w5": w5,
        "w6": w6,
        "w7": w7,
        "w8": w8,
        "b_h1": bh[0],
        "b_h2": bh[1],
        "b_o1": bo[0],
        "b_o2": bo[1],
    }
    return {k: float(v) for k, v in named.items()}
