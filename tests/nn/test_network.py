"""The network's forward and backward passes: the worked example by hand, the layout, and properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import scenario as sc
from app.nn.network import Network
from tests.engine_helpers import PUBLISHED, trainer, worked_by_hand, worked_from_events

HAND = worked_by_hand()
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
# every output activation with a loss it may be trained with
OUTPUT_LOSS = [(out, "squared_error") for out in HIDDEN] + [
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "cross_entropy"),
]
MAX_ABS = sc.LIMITS["max_abs_value"]


@pytest.fixture(scope="module")
def engine() -> dict[str, float]:
    """One step of the worked-example preset, read off the engine's events."""
    return worked_from_events(trainer(sc.preset("worked-example")).step(trace=True))


# --- the worked example ----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_worked_example_matches_the_published_digits(engine: dict[str, float], name: str) -> None:
    assert engine[name] == pytest.approx(PUBLISHED[name], abs=1e-8)


@pytest.mark.parametrize("name", sorted(HAND))
def test_worked_example_matches_a_hand_calculation(engine: dict[str, float], name: str) -> None:
    assert engine[name] == pytest.approx(HAND[name], abs=1e-12)


def test_hand_calculation_matches_the_published_digits() -> None:
    # anchors the plain-float calculation itself, so the 1e-12 comparison above means something
    for name, value in PUBLISHED.items():
        assert HAND[name] == pytest.approx(value, abs=1e-8), name


def test_hidden_deltas_use_the_weights_from_before_the_update(engine: dict[str, float]) -> None:
    h = HAND
    after = (h["delta_o1"] * h["w5"] + h["delta_o2"] * h["w7"]) * h["out_h1"] * (1 - h["out_h1"])
    assert abs(after - engine["delta_h1"]) > 1e-4  # the two orders are far apart, so the check can tell
    assert engine["delta_h1"] == pytest.approx(h["delta_h1"], abs=1e-12)


def test_biases_move_too_without_touching_this_steps_weights(engine: dict[str, float]) -> None:
    # b <- b - lr * delta; the weights above already match the bias-free published update
    assert engine["b_o1"] == pytest.approx(0.6 - 0.5 * PUBLISHED["delta_o1"], abs=1e-8)
    assert engine["b_h1"] == pytest.approx(0.35 - 0.5 * PUBLISHED["delta_h1"], abs=1e-8)


# --- layout ----------------------------------------------------------------------------------
def test_weight_j_i_feeds_unit_j_from_unit_i() -> None:
    w = [np.zeros((3, 2))]
    w[0][2, 1] = 2.0  # into unit 2 of layer 1, from input 1
    net = Network([2, 3], ["linear"], w, [np.array([0.0, 0.0, 0.5])])
    zs, as_ = net.forward(np.array([[10.0, 3.0]]))
    assert zs[1].tolist() == [[0.0, 0.0, 6.5]]
    assert as_[0].tolist() == [[10.0, 3.0]]  # the input is layer 0


def test_set_copies_into_the_arrays_the_optimizer_holds() -> None:
    net = Network([1, 1], ["linear"], [np.ones((1, 1))], [np.zeros(1)])
    held = net.params
    net.set([np.full((1, 1), 4.0), np.full(1, -1.0)])
    assert held[0] is net.w[0] and held[1] is net.b[0]
    assert net.w[0][0, 0] == 4.0 and net.b[0][0] == -1.0


def test_finite_spots_a_nan_anywhere() -> None:
    net = Network([1, 2, 1], ["tanh", "linear"], [np.ones((2, 1)), np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    assert net.finite()
    net.b[1][0] = np.nan
    assert not net.finite()


# --- properties ------------------------------------------------------------------------------
@st.composite
def networks(draw: st.DrawFn, max_abs: float = 1.0) -> tuple[Network, np.ndarray, np.ndarray, str]:
    """A network within the limits, a batch for it, and its loss; parameters and inputs up to max_abs."""
    depth = draw(st.integers(1, sc.LIMITS["max_weight_layers"]))
    out, loss = draw(st.sampled_from(OUTPUT_LOSS))
    low = 2 if out == "softmax" else 1
    sizes = draw(st.lists(st.integers(1, sc.LIMITS["max_units"]), min_size=depth, max_size=depth))
    sizes.append(draw(st.integers(low, sc.LIMITS["max_units"])))
    acts = [draw(st.sampled_from(HIDDEN)) for _ in range(depth - 1)] + [out]
    m = draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # mostly moderate values, with a share pinned at the extremes the limits allow
    scale = draw(st.sampled_from([1e-3, 1.0, max_abs]))

    def values(shape: tuple[int, ...]) -> np.ndarray:
        v = rng.uniform(-scale, scale, shape)
        return np.where(rng.random(shape) < 0.1, np.sign(v) * max_abs, v)

    ws = [values((n, k)) for k, n in zip(sizes[:-1], sizes[1:])]
    bs = [values((n,)) for n in sizes[1:]]
    x = values((m, sizes[0]))
    if loss == "cross_entropy":
        y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], m)]
    else:
        y = rng.uniform(0.0, 1.0, (m, sizes[-1]))
    return Network(sizes, acts, ws, bs), x, y, loss


@settings(max_examples=40, deadline=None)
@given(networks())
def test_forward_and_backward_shapes_follow_the_layers(case: tuple[Network, np.ndarray, np.ndarray, str]) -> None:
    net, x, y, loss = case
    m, n = len(x), net.layers
    zs, as_ = net.forward(x)
    assert [a.shape for a in as_] == [(m, k) for k in n]
    assert [z.shape for z in zs[1:]] == [(m, k) for k in n[1:]]
    deltas, grad_w, grad_b = net.backward(zs, as_, y, loss)
    assert [d.shape for d in deltas] == [(m, k) for k in n[1:]]
    assert [g.shape for g in grad_w] == [w.shape for w in net.w] == [(k, j) for j, k in zip(n[:-1], n[1:])]
    assert [g.shape for g in grad_b] == [b.shape for b in net.b]


@settings(max_examples=60, deadline=None)
@given(networks(max_abs=MAX_ABS))
def test_outputs_and_losses_stay_finite_within_the_limits(case: tuple[Network, np.ndarray, np.ndarray, str]) -> None:
    # |x|, |w|, |b| <= 1e6 with at most 64 units and 10 layers keeps |z| below ~1e85: no overflow anywhere
    net, x, y, loss = case
    losses, out = net.losses(x, y, loss)
    assert np.isfinite(out).all()
    assert np.isfinite(losses).all() and (losses >= 0).all()
    assert losses.shape == (len(x),)
