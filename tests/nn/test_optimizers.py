"""Optimizers: their update formulas by hand, descent on a convex cost, and L-BFGS reaching least squares."""

import math
from typing import Any

import numpy as np
import pytest

from app.nn.optimizers import LBFGS, SGD, Adam, Momentum, make
from app.nn.trainer import Trainer
from tests.engine_helpers import on_points, trainer

SPECS = {
    "sgd": {"type": "sgd", "learning_rate": 0.05},
    "momentum": {"type": "momentum", "learning_rate": 0.05, "momentum": 0.8},
    "adam": {"type": "adam", "learning_rate": 0.05},
    "lbfgs": {"type": "lbfgs", "learning_rate": 1.0},
}

# a linear fit of 6 points in 3 inputs: the cost is a convex quadratic in (w, b)
RNG = np.random.default_rng(7)
X = RNG.normal(size=(6, 3))
Y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + RNG.normal(0, 0.1, (6, 1))


def linear_fit(optimizer: dict[str, Any]) -> Trainer:
    return trainer(
        on_points(X.tolist(), Y.tolist(), layers=[3, 1], activations=["linear"], optimizer=optimizer, batch_size=6)
    )


def cost(t: Trainer) -> float:
    # computed here from the weights, not by the engine
    w, b = t.net.w[0], t.net.b[0]
    return float(np.mean(0.5 * ((X @ w.T + b - Y) ** 2).sum(axis=1)))


# --- descent on a convex cost ----------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(SPECS))
def test_every_optimizer_lowers_a_convex_cost(kind: str) -> None:
    t = linear_fit(SPECS[kind])
    before = cost(t)
    t.step()
    after = cost(t)
    assert after < before
    for _ in range(30):
        t.step()
    assert cost(t) < after


def test_lbfgs_reaches_the_least_squares_solution() -> None:
    t = linear_fit(SPECS["lbfgs"])
    for _ in range(40):
        t.step()
    design = np.hstack([X, np.ones((6, 1))])
    best = np.linalg.lstsq(design, Y, rcond=None)[0].ravel()
    np.testing.assert_allclose(np.append(t.net.w[0].ravel(), t.net.b[0]), best, atol=1e-7)


@pytest.mark.parametrize(
    "lr, taken",
    [
        (100.0, 100 / 2**6),  # halved until Armijo holds
        (1.99999, 1.99999 / 2),  # lowers C, but by less than 1e-4 * t * |slope|: halved once
        (1.5, 1.5),  # passes at once
    ],
)
def test_lbfgs_line_search_wants_a_sufficient_decrease(lr: float, taken: float) -> None:
    # C = x^2/2 from x = 1, g = 1: Armijo C(1 - t) <= C(1) - 1e-4 t holds for t <= 1.9998
    x = [np.array([1.0])]
    d = LBFGS(lr).step(x, [np.array([1.0])], lambda p: 0.5 * float(p[0][0] ** 2))
    assert d[0][0] == -taken and x[0][0] == 1 - taken


# --- the update formulas ---------------------------------------------------------------------
G1, G2 = 0.4, -0.1  # two successive gradients of a single parameter


def two_steps(opt: Any) -> list[float]:
    p = [np.array([1.0])]
    return [float(opt.step(p, [np.array([g])])[0][0]) for g in (G1, G2)]


def test_sgd_subtracts_lr_times_the_gradient() -> None:
    assert two_steps(SGD(0.5)) == [-0.5 * G1, -0.5 * G2]


def test_momentum_keeps_a_velocity() -> None:
    v1 = -0.5 * G1
    v2 = 0.9 * v1 - 0.5 * G2
    assert two_steps(Momentum(0.5, momentum=0.9)) == pytest.approx([v1, v2], rel=1e-15)


def test_adam_uses_bias_corrected_moments() -> None:
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    m = v = 0.0
    want = []
    for t, g in enumerate((G1, G2), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        want.append(-lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps))
    assert two_steps(Adam(lr, b1, b2, eps)) == pytest.approx(want, rel=1e-13)
    assert want[0] == pytest.approx(-lr, rel=1e-6)  # the first Adam step is lr against the gradient's sign


def test_lbfgs_first_step_is_steepest_descent() -> None:
    # no curvature pairs yet, and a step that passes Armijo at once
    assert two_steps(LBFGS(0.5))[0] == -0.5 * G1


@pytest.mark.parametrize(
    "kind, cls, settings",
    [("sgd", SGD, {}), ("momentum", Momentum, {"momentum": 0.5}), ("adam", Adam, {"beta1": 0.8}), ("lbfgs", LBFGS, {})],
)
def test_make_builds_each_optimizer_by_name(kind: str, cls: type, settings: dict[str, float]) -> None:
    opt = make(kind, learning_rate=0.25, **settings)
    assert type(opt) is cls and opt.learning_rate == 0.25
    for key, value in settings.items():
        assert getattr(opt, key) == value


def test_make_rejects_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="rmsprop"):
        make("rmsprop", learning_rate=0.1)


# --- state -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(SPECS))
def test_a_snapshot_restores_the_optimizer_state(kind: str) -> None:
    # momentum's velocity, Adam's moments and L-BFGS's pairs all shape the steps after a restore
    t = linear_fit(SPECS[kind])
    for _ in range(3):
        t.step()
    snap = t.snapshot()
    runs = []
    for _ in range(2):
        t.restore(snap)
        for _ in range(3):
            t.step()
        runs.append([p.tobytes() for p in t.net.params])
    assert runs[0] == runs[1]
    assert t.step_count == 6
