"""Back-propagated gradients against central differences, for every valid activation and loss."""

import itertools

import numpy as np
import pytest

from app.nn.activations import ACTIVATIONS, Activation
from app.nn.gradcheck import gradcheck, rel_error
from app.nn.trainer import Trainer
from tests.engine_helpers import on_points, trainer

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
OUTPUT_LOSS = [(out, "squared_error") for out in HIDDEN] + [
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "cross_entropy"),
]
REGS = ["none", "l1", "l2"]
RATE = 0.05
LAYERS = [3, 4, 4, 3]
EPS = 1e-5
MARGIN = 1e-3  # far from every kink: EPS moves a z by at most EPS * max|a|

# the cost written out independently of the engine, straight from the formulas
REF_F = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "linear": lambda z: z,
    "softmax": lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
}
REF_E = {
    "squared_error": lambda a, y: 0.5 * ((a - y) ** 2).sum(axis=1),
    "binary_cross_entropy": lambda a, y: -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1),
    "cross_entropy": lambda a, y: -(y * np.log(a)).sum(axis=1),
}


def ref_cost(params: list[np.ndarray], acts: list[str], loss: str, reg: str, x: np.ndarray, y: np.ndarray) -> float:
    ws, bs = params[0::2], params[1::2]
    a = x
    for w, b, f in zip(ws, bs, acts):
        a = REF_F[f](a @ w.T + b)
    penalty = {
        "none": 0.0,
        "l1": RATE * sum(np.abs(w).sum() for w in ws),
        "l2": RATE / 2 * sum((w * w).sum() for w in ws),
    }
    return float(REF_E[loss](a, y).mean() + penalty[reg])


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # |v| in [0.1, 1]: L1 has a kink at w = 0
    return rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)


def case(hidden: str, out: str, loss: str, reg: str) -> Trainer:
    """A 3-4-4-3 network on 5 examples, from the first seed whose every z keeps clear of the kinks."""
    acts = [hidden, hidden, out]
    for seed in range(100):
        rng = np.random.default_rng(seed)
        ws = [away_from_zero(rng, (n, k)) for k, n in zip(LAYERS[:-1], LAYERS[1:])]
        bs = [away_from_zero(rng, (n,)) for n in LAYERS[1:]]
        x = rng.normal(size=(5, LAYERS[0]))
        y = np.eye(3)[rng.integers(0, 3, 5)] if loss == "cross_entropy" else rng.uniform(0, 1, (5, 3))
        d = on_points(x.tolist(), y.tolist(), layers=LAYERS, activations=acts, loss=loss, batch_size=5)
        d.update(weights=[w.tolist() for w in ws], biases=[b.tolist() for b in bs])
        d["regularization"] = {"type": reg, "rate": RATE}
        t = trainer(d)
        zs, _ = t.net.forward(t.x)
        if min(np.abs(z).min() for z in zs[1:]) > MARGIN:
            return t
    raise AssertionError("no seed keeps every z away from 0")


def close(analytic: np.ndarray, numeric: np.ndarray, rel: np.ndarray) -> bool:
    # relative error 1e-7; closer than 1e-10 the central difference is itself roundoff (~C * 2^-52 / EPS)
    return bool(((rel <= 1e-7) | (np.abs(analytic - numeric) <= 1e-10)).all())


COMBOS = [(h, out, loss, reg) for h, (out, loss), reg in itertools.product(HIDDEN, OUTPUT_LOSS, REGS)]
IDS = ["-".join(c) for c in COMBOS]


@pytest.mark.parametrize("hidden, out, loss, reg", COMBOS, ids=IDS)
def test_gradcheck_agrees_with_backprop(hidden: str, out: str, loss: str, reg: str) -> None:
    t = case(hidden, out, loss, reg)
    for layer in gradcheck(t, t.x, t.y, eps=EPS):
        for k in ("w", "b"):
            a, n, rel = layer[f"grad_{k}"], layer[f"numeric_{k}"], layer[f"rel_error_{k}"]
            assert close(a, n, rel), f"layer {layer['layer']} dC/d{k}: backward pass disagrees, rel error {rel.max()}"


@pytest.mark.parametrize("hidden, out, loss, reg", COMBOS, ids=IDS)
def test_independent_differences_agree_with_backprop(hidden: str, out: str, loss: str, reg: str) -> None:
    t = case(hidden, out, loss, reg)
    *_, grad_w, grad_b = t.gradients(t.x, t.y)
    analytic = [g for pair in zip(grad_w, grad_b) for g in pair]
    params = t.net.get()
    acts = [hidden, hidden, out]
    for p, g in zip(params, analytic):
        numeric = np.zeros_like(p)
        for k in np.ndindex(p.shape):
            old = p[k]
            p[k] = old + EPS
            up = ref_cost(params, acts, loss, reg, t.x, t.y)
            p[k] = old - EPS
            down = ref_cost(params, acts, loss, reg, t.x, t.y)
            p[k] = old
            numeric[k] = (up - down) / (2 * EPS)
        assert close(g, numeric, rel_error(g, numeric)), f"backward pass disagrees: {g} vs {numeric}"


def test_reference_cost_is_the_engines_cost() -> None:
    # the two loops above differentiate the same function
    for hidden, out, loss, reg in COMBOS[::4]:
        t = case(hidden, out, loss, reg)
        want = ref_cost(t.net.get(), [hidden, hidden, out], loss, reg, t.x, t.y)
        assert t.cost(t.x, t.y) == pytest.approx(want, rel=1e-12)


# --- the checker itself ----------------------------------------------------------------------
def test_gradcheck_leaves_the_parameters_bit_identical() -> None:
    t = case("tanh", "sigmoid", "binary_cross_entropy", "l1")
    before = [p.tobytes() for p in t.net.params]
    gradcheck(t, t.x, t.y)
    assert [p.tobytes() for p in t.net.params] == before


def test_gradcheck_catches_a_wrong_derivative() -> None:
    t = case("tanh", "sigmoid", "squared_error", "none")
    # tanh' is 1 - a^2; 1 - a is wrong, and the check must say so
    t.net.acts[0] = Activation(ACTIVATIONS["tanh"].f, lambda z, a: 1.0 - a)
    worst = max(float(layer["rel_error_w"].max()) for layer in gradcheck(t, t.x, t.y))
    assert worst > 1e-2


def test_rel_error_is_zero_where_both_vanish() -> None:
    a, n = np.array([0.0, 1.0, 1.0]), np.array([0.0, 1.0, 3.0])
    np.testing.assert_array_equal(rel_error(a, n), [0.0, 0.0, 0.5])
