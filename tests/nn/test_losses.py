"""Losses against their textbook formulas, their stability at saturation, and the output delta."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.nn.activations import ACTIVATIONS
from app.nn.losses import EPS, LOSSES, REQUIRED_OUTPUT, output_delta
from app.nn.regularization import Regularization
from tests.engine_helpers import doc, trainer

Z = np.array([[0.3, -1.2, 2.0], [-0.5, 0.1, 0.0]])
Y01 = np.array([[1.0, 0.0, 1.0], [0.0, 0.25, 1.0]])
ONE_HOT = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def softmax(row: list[float]) -> list[float]:
    e = [math.exp(v) for v in row]
    return [v / sum(e) for v in e]


def losses(name: str, z: np.ndarray, y: np.ndarray, out: str) -> np.ndarray:
    return LOSSES[name].e(z, ACTIVATIONS[out].f(z), y)


# --- the formulas ----------------------------------------------------------------------------
def test_squared_error_is_half_the_sum_of_squares() -> None:
    a = np.tanh(Z)
    want = [0.5 * sum((math.tanh(z) - t) ** 2 for z, t in zip(zr, yr)) for zr, yr in zip(Z.tolist(), Y01.tolist())]
    np.testing.assert_allclose(losses("squared_error", Z, Y01, "tanh"), want, rtol=1e-14)
    np.testing.assert_allclose(LOSSES["squared_error"].de(a, Y01), a - Y01, rtol=0)


def test_binary_cross_entropy_is_minus_the_log_likelihood() -> None:
    want = [
        -sum(t * math.log(sigmoid(z)) + (1 - t) * math.log(1 - sigmoid(z)) for z, t in zip(zr, yr))
        for zr, yr in zip(Z.tolist(), Y01.tolist())
    ]
    np.testing.assert_allclose(losses("binary_cross_entropy", Z, Y01, "sigmoid"), want, rtol=1e-12)


def test_cross_entropy_is_minus_the_log_of_the_right_class() -> None:
    want = [-math.log(softmax(zr)[yr.index(1.0)]) for zr, yr in zip(Z.tolist(), ONE_HOT.tolist())]
    np.testing.assert_allclose(losses("cross_entropy", Z, ONE_HOT, "softmax"), want, rtol=1e-12)


def test_derivatives_of_the_cross_entropies_by_formula() -> None:
    a = np.array([[0.2, 0.9]])
    y = np.array([[1.0, 0.0]])
    np.testing.assert_allclose(LOSSES["binary_cross_entropy"].de(a, y), [[-1 / 0.2, 1 / 0.1]], rtol=1e-12)
    np.testing.assert_allclose(LOSSES["cross_entropy"].de(a, y), [[-1 / 0.2, 0.0]], rtol=1e-12)


# --- stability -------------------------------------------------------------------------------
def test_binary_cross_entropy_stays_exact_when_the_sigmoid_saturates() -> None:
    # log(1 - a) would be log(0) here; on z the loss is log(1 + e^z) - y z
    z = np.array([[800.0, -800.0, 40.0]])
    y = np.array([[0.0, 1.0, 1.0]])
    np.testing.assert_allclose(losses("binary_cross_entropy", z, y, "sigmoid"), [800.0 + 800.0 + math.exp(-40.0)])


def test_cross_entropy_uses_log_sum_exp() -> None:
    # e^1000 overflows; the loss of the wrong class is the logit gap
    z = np.array([[1000.0, 0.0, -1000.0]])
    np.testing.assert_allclose(losses("cross_entropy", z, np.array([[0.0, 1.0, 0.0]]), "softmax"), [1000.0])


@pytest.mark.parametrize(
    "name, a, y", [("binary_cross_entropy", 0.0, 1.0), ("binary_cross_entropy", 1.0, 0.0), ("cross_entropy", 0.0, 1.0)]
)
def test_cross_entropy_slopes_are_clipped_to_large_finite_numbers(name: str, a: float, y: float) -> None:
    # a fully wrong saturated output: dE/da would divide by zero without the clip at EPS
    de = LOSSES[name].de(np.array([[a]]), np.array([[y]]))[0, 0]
    assert np.isfinite(de) and abs(de) >= 0.5 / EPS


# --- the output delta ------------------------------------------------------------------------
@pytest.mark.parametrize("loss", sorted(REQUIRED_OUTPUT))
def test_matched_pairs_give_the_output_delta_a_minus_y(loss: str) -> None:
    out = REQUIRED_OUTPUT[loss]
    act, y = ACTIVATIONS[out], (Y01 if out == "sigmoid" else ONE_HOT)
    a = act.f(Z)
    np.testing.assert_array_equal(output_delta(loss, act, Z, a, y), a - y)


def test_sigmoid_with_bce_shortcut_agrees_with_the_chain_rule() -> None:
    # a - y is exact only because dE/da * a(1 - a) cancels; check the cancellation itself
    act = ACTIVATIONS["sigmoid"]
    a = act.f(Z)
    chain = LOSSES["binary_cross_entropy"].de(a, Y01) * act.df(Z, a)
    np.testing.assert_allclose(output_delta("binary_cross_entropy", act, Z, a, Y01), chain, rtol=1e-12)


@pytest.mark.parametrize("out", ["sigmoid", "tanh", "relu", "leaky_relu", "linear"])
def test_squared_error_delta_is_the_error_times_the_slope(out: str) -> None:
    slope = {
        "sigmoid": lambda z: sigmoid(z) * (1 - sigmoid(z)),
        "tanh": lambda z: 1 - math.tanh(z) ** 2,
        "relu": lambda z: 1.0 if z > 0 else 0.0,
        "leaky_relu": lambda z: 1.0 if z > 0 else 0.01,
        "linear": lambda z: 1.0,
    }[out]
    act = ACTIVATIONS[out]
    a = act.f(Z)
    want = (a - Y01) * np.vectorize(slope)(Z)
    np.testing.assert_allclose(output_delta("squared_error", act, Z, a, Y01), want, rtol=1e-12)


def test_softmax_has_no_elementwise_slope() -> None:
    with pytest.raises(ValueError, match="cross_entropy"):
        ACTIVATIONS["softmax"].df(Z, ACTIVATIONS["softmax"].f(Z))


# --- properties ------------------------------------------------------------------------------
logits = st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=6)


@settings(max_examples=100, deadline=None)
@given(logits, st.data())
def test_losses_are_never_negative(z_row: list[float], data: st.DataObject) -> None:
    z = np.array([z_row])
    n = z.shape[1]
    probs = data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    k = data.draw(st.integers(0, n - 1))
    for name, out, y in (
        ("squared_error", "linear", np.array([probs]) * 2e6 - 1e6),
        ("squared_error", "tanh", np.array([probs])),
        ("binary_cross_entropy", "sigmoid", np.array([probs])),
        ("cross_entropy", "softmax", np.eye(n)[[k]]),
    ):
        e = losses(name, z, y, out)
        assert np.isfinite(e).all() and (e >= 0).all(), name


# --- the penalty -----------------------------------------------------------------------------
W = [np.array([[0.5, -2.0]]), np.array([[3.0], [-0.25]])]


@pytest.mark.parametrize(
    "kind, want", [("l1", 0.1 * (0.5 + 2 + 3 + 0.25)), ("l2", 0.1 / 2 * (0.25 + 4 + 9 + 0.0625)), ("none", 0.0)]
)
def test_penalty_by_formula(kind: str, want: float) -> None:
    assert Regularization(kind, 0.1).penalty(W) == pytest.approx(want, rel=1e-15)


def test_penalty_slopes_are_sign_and_w() -> None:
    np.testing.assert_array_equal(Regularization("l1", 0.1).grad(np.array([-3.0, 0.0, 2.0])), [-0.1, 0.0, 0.1])
    np.testing.assert_allclose(Regularization("l2", 0.1).grad(np.array([-3.0, 0.0, 2.0])), [-0.3, 0.0, 0.2], rtol=1e-15)


def test_zero_rate_is_no_regularization() -> None:
    assert not Regularization("l2", 0.0).active and not Regularization("none", 1.0).active
    assert Regularization("l1", 0.0).penalty(W) == 0.0


def test_cost_is_the_mean_loss_plus_a_penalty_on_weights_only() -> None:
    # large biases must not count: the penalty is on weights alone
    t = trainer(doc(regularization={"type": "l2", "rate": 0.5}, biases=[[9.0, 9.0, 9.0], [9.0]]))
    out = t.net.predict(t.x)
    mean_e = float(np.mean(0.5 * np.sum((out - t.y) ** 2, axis=1)))
    penalty = 0.25 * sum(float((w**2).sum()) for w in t.net.w)
    assert t.cost(t.x, t.y) == pytest.approx(mean_e + penalty, rel=1e-14)
