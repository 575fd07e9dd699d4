"""The divergence guard: the first bad step, what went non-finite, and the same answer on every path."""

from typing import Any

import numpy as np
import pytest

from app import scenario as sc
from app.nn import guard
from app.nn.network import Network
from app.nn.optimizers import SGD, Momentum
from app.nn.regularization import Regularization
from app.nn.trainer import Trainer
from tests.nn import diverging
from tests.nn.diverging import FIRST_BAD


def minimal() -> Trainer:
    return sc.build(sc.parse(diverging.minimal())).trainer


def by_steps(t: Trainer) -> guard.Diverged:
    with pytest.raises(guard.Diverged) as err:
        while True:
            guard.step(t, trace=True)
    return err.value


def by_train(t: Trainer, chunk: int) -> guard.Diverged:
    with pytest.raises(guard.Diverged) as err:
        t.train(2000, chunk=chunk)
    return err.value


def by_stretches(t: Trainer, stretch: int) -> guard.Diverged:
    """Unchecked steps in stretches, one check after each: how a live session trains."""
    good = t.snapshot()
    with pytest.raises(guard.Diverged) as err, np.errstate(all="ignore"):
        while True:
            for _ in range(stretch):
                t.step()
            good = guard.check(t, good)
    return err.value


PATHS = {
    "step by step": by_steps,
    "train, chunk 1": lambda t: by_train(t, 1),
    "train, chunk 64": lambda t: by_train(t, 64),
    "train, chunk 1000": lambda t: by_train(t, 1000),
    "stretches of 7": lambda t: by_stretches(t, 7),
    "one stretch of 520": lambda t: by_stretches(t, 520),
    "one stretch of 1100": lambda t: by_stretches(t, 1100),  # weights are inf by then, and NaN later
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_every_path_stops_at_the_same_step_with_a_finite_loss(path: str) -> None:
    t = minimal()
    err = PATHS[path](t)
    assert err.step == FIRST_BAD and err.what == "the loss" and err.kind == "infinite"
    assert t.step_count == FIRST_BAD - 1
    assert t.net.finite() and np.isfinite(t.cost(t.x, t.y))  # the state it returns to is good
    assert guard.fault(t) is None
    assert f"step {FIRST_BAD}" in str(err) and f"step {FIRST_BAD - 1}" in str(err)


def test_the_first_bad_state_is_the_first_with_an_infinite_loss() -> None:
    # independent of the guard: run on and evaluate the cost at every state
    t = minimal()
    costs = []
    with np.errstate(all="ignore"):
        for _ in range(FIRST_BAD + 1):
            costs.append(t.cost(t.x, t.y))
            t.step()
    assert np.isfinite(costs[FIRST_BAD - 1]) and not np.isfinite(costs[FIRST_BAD])


def test_check_returns_a_snapshot_of_a_good_state() -> None:
    t = minimal()
    good = t.snapshot()
    for _ in range(10):
        t.step()
    snap = guard.check(t, good)
    assert snap["step"] == 10 and t.step_count == 10


def test_a_bad_start_is_step_0() -> None:
    t = minimal()
    t.net.w[0][0, 0] = np.inf
    with pytest.raises(guard.Diverged) as err:
        guard.check(t, t.snapshot())
    assert err.value.step == 0 and err.value.already and err.value.what == "weight w[1][0][0]"
    assert err.value.reason() == "Training cannot go on: at step 0 weight w[1][0][0] is already infinite."


def test_a_bad_state_to_check_from_is_named_as_such() -> None:
    t = minimal()
    with np.errstate(all="ignore"):
        for _ in range(600):
            t.step()
    with pytest.raises(guard.Diverged) as err:
        guard.check(t, t.snapshot())
    assert err.value.already and err.value.step == 600 and t.step_count == 600
    assert err.value.reason().startswith("Training cannot go on: at step 600 ")


# --- what went non-finite ---------------------------------------------------------------------
def linear(x: float, w: float, opt: Any = None) -> Trainer:
    net = Network(
        [1, 2, 1], ["linear", "linear"], [np.array([[w], [w]]), np.array([[1.0, 1.0]])], [np.zeros(2), np.zeros(1)]
    )
    return Trainer(
        net, opt or SGD(0.1), "squared_error", Regularization(), np.array([[x]]), np.array([[0.0]]), batch_size=1
    )


def test_fault_names_the_weight_or_bias() -> None:
    t = linear(1.0, 1.0)
    assert guard.fault(t) is None
    t.net.w[1][0, 1] = np.nan
    assert guard.fault(t) == ("weight w[2][0][1]", "NaN")
    t.net.w[1][0, 1] = 1.0
    t.net.b[0][1] = -np.inf
    assert guard.fault(t) == ("bias b[1][1]", "infinite")


def test_fault_names_the_gradient_when_the_loss_is_finite() -> None:
    # z ~ 1e150 keeps 0.5 z^2 finite, but dC/dW_1 = delta * x ~ 1e150 * 1e200 overflows
    t = linear(1e200, 1e-50)
    assert np.isfinite(t.cost(t.x, t.y))
    assert guard.fault(t) == ("the gradient of w[1][0][0]", "infinite")


def test_fault_names_the_optimizer_state() -> None:
    t = linear(1.0, 1.0, Momentum(0.1, 0.9))
    t.step()
    assert guard.fault(t) is None
    t.optimizer.v[3][0] = np.inf  # type: ignore[attr-defined, index]
    assert guard.fault(t) == ("the optimizer state", "NaN or infinite")


def test_a_rejected_step_is_undone() -> None:
    t = linear(1.0, 1.0)
    before = t.snapshot()
    t.net.w[0][0, 0] = 1e300  # finite, but the next step makes the weights overflow
    with pytest.raises(guard.Diverged) as err:
        guard.step(t, trace=True)
    assert err.value.step == 1 and t.step_count == 0 and t.net.w[0][0, 0] == 1e300
    assert before["step"] == t.step_count


def test_reason_suggests_a_smaller_learning_rate() -> None:
    e = guard.Diverged(12, "the loss", "infinite")
    assert e.reason(0.5).endswith("Try a learning rate below 0.5.")
    assert "step 12" in e.reason() and "step 11" in e.reason()
