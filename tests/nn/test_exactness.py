"""Every traced number against central differences, over the whole domain a scenario accepts.

Networks, activation/loss pairs and targets are drawn as scenario documents and parsed, so
every case is one the scenario check lets through: edge rows (all zeros, multi-hot, exactly
0 and 1), saturated outputs, and rows that do not sum to 1 under softmax + cross_entropy.
"""

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app import scenario as sc
from app.nn.activations import ACTIVATIONS
from app.nn.losses import EPS, LOSSES
from app.nn.network import Network
from app.nn.trainer import Trainer

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
OUTPUT_LOSS = [(out, "squared_error") for out in HIDDEN] + [
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "cross_entropy"),
]
KINKED = {"relu", "leaky_relu"}
ROWS = ["zeros", "ones", "one_hot", "multi_hot", "exact_01", "uniform", "huge"]
H = 1e-5  # the difference step, scaled by max(1, |v|)


def target_row(kind: str, n: int, rng: np.random.Generator, loss: str) -> list[float]:
    if kind == "zeros":
        return [0.0] * n
    if kind == "ones":
        return [1.0] * n
    if kind == "one_hot":
        return np.eye(n)[rng.integers(0, n)].tolist()
    if kind in ("multi_hot", "exact_01"):
        return rng.integers(0, 2, n).astype(float).tolist()
    if kind == "huge" and loss == "squared_error":  # targets may be as large as max_abs_value
        return rng.uniform(-sc.LIMITS["max_abs_value"], sc.LIMITS["max_abs_value"], n).tolist()
    lo = -3.0 if loss == "squared_error" else 0.0
    return rng.uniform(lo, 1.0, n).tolist()


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario document: up to 3 hidden layers, a batch of 1-4 edge or random rows."""
    out, loss = draw(st.sampled_from(OUTPUT_LOSS))
    depth = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 5), min_size=depth, max_size=depth))
    sizes.append(draw(st.integers(2 if out == "softmax" else 1, 5)))
    acts = [draw(st.sampled_from(HIDDEN)) for _ in range(depth - 1)] + [out]
    m = draw(st.integers(1, 4))
    rows = [draw(st.sampled_from(ROWS)) for _ in range(m)]
    saturate = draw(st.booleans())  # an output bias of ±40: sigmoid, tanh and softmax saturate
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ws = [rng.uniform(-1.5, 1.5, (n, k)) for k, n in zip(sizes[:-1], sizes[1:])]
    bs = [rng.uniform(-1.0, 1.0, n) for n in sizes[1:]]
    if saturate:
        bs[-1] = rng.choice([-40.0, 40.0], sizes[-1])
    x = rng.uniform(-1.0, 1.0, (m, sizes[0])) * draw(st.sampled_from([2.0, 2.0, 1e3]))
    x[rng.random(m) < 0.25] = 0.0  # all-zero input rows too
    y = [target_row(kind, sizes[-1], rng, loss) for kind in rows]
    return {
        "layers": sizes,
        "activations": acts,
        "loss": loss,
        "optimizer": {"type": "sgd", "learning_rate": 0.1},
        "batch_size": m,
        "weights": [w.tolist() for w in ws],
        "biases": [b.tolist() for b in bs],
        "data": {"train": {"x": x.tolist(), "y": y}},
    }


def tail_losses(net: Network, l: int, z: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    """E per example as a function of z_l, the rest of the forward pass written out here."""
    a = net.acts[l - 1].f(z)
    for k in range(l, net.depth):
        z = a @ net.w[k].T + net.b[k]
        a = net.acts[k].f(z)
    return LOSSES[loss].e(z, a, y)


def input_losses(net: Network, x: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    zs, as_ = net.forward(x)
    return LOSSES[loss].e(zs[-1], as_[-1], y)


def five_point(g: Any, h: float) -> float:
    """g'(0) by the five-point central difference, good to h^4 (large inputs curve sharply)."""
    return float((g(-2 * h) - 8 * g(-h) + 8 * g(h) - g(2 * h)) / (12 * h))


def per_example_slopes(f: Any, v: np.ndarray) -> np.ndarray:
    """dE_n/dv[n, j] by central differences, where f(v) gives E per example (row)."""
    out = np.zeros_like(v)
    for n, j in np.ndindex(v.shape):

        def g(d: float, n: int = n, j: int = j) -> float:
            moved = v.copy()
            moved[n, j] += d
            return float(f(moved)[n])

        out[n, j] = five_point(g, H * max(1.0, abs(v[n, j])))
    return out


def cost_slopes(t: Trainer, p: np.ndarray) -> np.ndarray:
    out = np.zeros_like(p)
    for k in np.ndindex(p.shape):
        old = p[k]

        def g(d: float, k: tuple[int, ...] = k, old: float = old) -> float:
            p[k] = old + d
            c = t.cost(t.x, t.y)
            p[k] = old
            return c

        out[k] = five_point(g, H * max(1.0, abs(old)))
    return out


def agree(analytic: np.ndarray, numeric: np.ndarray, scale: float, what: str) -> None:
    # five-point differences are good to ~h^4 and to roundoff ~ |E| 2^-52 / h
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8 * scale, err_msg=what)


def clear_of_kinks(t: Trainer) -> bool:
    """No z of a ReLU-type layer within a difference step of 0, where f' does not exist."""
    zs, _ = t.net.forward(t.x)
    reach = 10 * H * (1 + max(float(np.abs(x).max()) for x in [t.x, *t.net.params]))
    return all(
        t.net.activations[l - 1] not in KINKED or float(np.abs(zs[l]).min()) > reach for l in range(1, t.net.depth + 1)
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(cases())
def test_every_traced_slope_is_the_true_derivative(doc: dict[str, Any]) -> None:
    t = sc.build(sc.parse(doc)).trainer  # in the accepted domain by construction
    assume(clear_of_kinks(t))
    net, loss, x, y = t.net, t.loss, t.x, t.y
    before = net.get()
    events = t.step(trace=True)
    net.set(before)  # the differences are taken where the step's gradients were
    zs, _ = net.forward(x)
    scale = max(1.0, float(np.abs(LOSSES[loss].e(zs[-1], net.forward(x)[1][-1], y)).max()))
    back = {e["layer"]: e for e in events if e["type"] == "backward"}
    for l in range(1, net.depth + 1):
        e = back[l]
        numeric = per_example_slopes(lambda z, l=l: tail_losses(net, l, z, y, loss), zs[l])
        agree(e["delta"], numeric, scale, f"delta of layer {l}")
        agree(e["grad_w"], cost_slopes(t, net.w[l - 1]), scale, f"grad_w of layer {l}")
        agree(e["grad_b"], cost_slopes(t, net.b[l - 1]), scale, f"grad_b of layer {l}")
    numeric = per_example_slopes(lambda v: input_losses(net, v, y, loss), x.copy())
    agree(back[1]["delta_input"], numeric, scale, "delta_input")


def through_f_prime(out: str, z: np.ndarray, a: np.ndarray, dloss: np.ndarray) -> np.ndarray:
    """dE/dz from dE/da: elementwise f'(z), or the softmax Jacobian a * (dloss - sum(a * dloss))."""
    if out == "softmax":
        return a * (dloss - (a * dloss).sum(axis=1, keepdims=True))
    return dloss * ACTIVATIONS[out].df(z, a)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_output_error_delta_is_dloss_through_f_prime(doc: dict[str, Any]) -> None:
    t = sc.build(sc.parse(doc)).trainer
    out = doc["activations"][-1]
    events = t.step(trace=True)
    oe = next(e for e in events if e["type"] == "output_error")
    z = next(e for e in events if e["type"] == "forward" and e["layer"] == t.net.depth)["z"]
    a, y, dloss, delta = oe["output"], oe["target"], oe["dloss"], oe["delta"]
    # where dE/da was clipped (a within EPS of 0, or of 1 for the sigmoid) it is a bound, not the slope
    clipped = (a < EPS) | ((a > 1 - EPS) & (doc["loss"] == "binary_cross_entropy"))
    rows = ~(clipped & (y != 0)).any(axis=1) if doc["loss"] == "cross_entropy" else ~clipped.any(axis=1)
    if doc["loss"] == "binary_cross_entropy":
        rows &= ~((a == 1.0) | (a == 0.0)).any(axis=1)  # f' = a(1 - a) rounds to 0 there
    chained = through_f_prime(out, z, a, dloss)
    np.testing.assert_allclose(delta[rows], chained[rows], rtol=1e-9, atol=1e-12)


# --- the cases the issue names -----------------------------------------------------------------
def one_step(doc: dict[str, Any]) -> dict[str, Any]:
    events = sc.build(sc.parse(doc)).trainer.step(trace=True)
    return {e["type"] + str(e.get("layer", "")): e for e in events}


def test_an_all_zero_softmax_target_has_no_gradient() -> None:
    # E = -sum y log a is 0 for every z when y = 0: delta, gradients and changes are all 0
    d = {
        "layers": [1, 2],
        "activations": ["softmax"],
        "loss": "cross_entropy",
        "data": {"train": {"x": [[0]], "y": [[0, 0]]}},
    }
    ev = one_step(d)
    assert ev["output_error"]["loss"] == 0.0
    np.testing.assert_array_equal(ev["output_error"]["delta"], [[0.0, 0.0]])
    np.testing.assert_array_equal(ev["backward1"]["grad_b"], [0.0, 0.0])
    np.testing.assert_array_equal(ev["update1"]["db"], [0.0, 0.0])


def test_a_multi_hot_softmax_target_counts_every_hot_class() -> None:
    # E = -(log a_0 + log a_1), so dE/dz_k = 2 a_k - y_k, not a_k - y_k
    d = {
        "layers": [1, 3],
        "activations": ["softmax"],
        "loss": "cross_entropy",
        "weights": [[[0.0], [0.0], [0.0]]],
        "biases": [[0.0, 0.0, 0.0]],
        "data": {"train": {"x": [[1.0]], "y": [[1.0, 1.0, 0.0]]}},
    }
    delta = one_step(d)["output_error"]["delta"]
    np.testing.assert_allclose(delta, [[2 / 3 - 1, 2 / 3 - 1, 2 / 3]], rtol=1e-15)


@pytest.mark.parametrize("y", [[0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [0.3, 0.2]])
def test_gradcheck_agrees_on_rows_that_do_not_sum_to_one(y: list[float]) -> None:
    from app.nn.gradcheck import gradcheck

    d = {
        "layers": [1, 2],
        "activations": ["softmax"],
        "loss": "cross_entropy",
        "data": {"train": {"x": [[0.5]], "y": [y]}},
    }
    t = sc.build(sc.parse(d)).trainer
    for layer in gradcheck(t, t.x, t.y):
        np.testing.assert_allclose(layer["grad_b"], layer["numeric_b"], atol=1e-9)
        np.testing.assert_allclose(layer["grad_w"], layer["numeric_w"], atol=1e-9)
