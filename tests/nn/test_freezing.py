"""Frozen parameter arrays and bias-free layers: computed and shown, never changed, for every optimizer."""

import math
from typing import Any

import numpy as np
import pytest

from app import scenario as sc
from tests.engine_helpers import doc, trainer

OPTIMIZERS = {
    "sgd": {"type": "sgd", "learning_rate": 0.5},
    "momentum": {"type": "momentum", "learning_rate": 0.3, "momentum": 0.9},
    "adam": {"type": "adam", "learning_rate": 0.05},
    "lbfgs": {"type": "lbfgs", "learning_rate": 1.0},
}


def events_by_layer(events: list[dict[str, Any]], kind: str) -> dict[int, dict[str, Any]]:
    return {e["layer"]: e for e in events if e["type"] == kind}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("frozen", [["b1", "b2"], ["W1"], ["W2", "b1"]])
def test_a_frozen_array_keeps_its_value_and_shows_its_gradient(opt: str, frozen: list[str]) -> None:
    t = trainer(doc(optimizer=OPTIMIZERS[opt], frozen=frozen, regularization={"type": "l2", "rate": 0.01}))
    start = t.net.get()
    moved = set()
    for _ in range(5):
        events = t.step(trace=True)
        back, upd = events_by_layer(events, "backward"), events_by_layer(events, "update")
        for name in ("W1", "b1", "W2", "b2"):
            l, key = int(name[1]), "w" if name[0] == "W" else "b"
            grad, change = back[l][f"grad_{key}"], upd[l][f"d{key}"]
            if name in frozen:
                assert np.abs(grad).max() > 0  # still computed and shown
                assert (change == 0).all() and not np.signbit(change).any()  # 0, not -0
            elif np.abs(change).max() > 0:
                moved.add(name)
    for k, name in enumerate(("W1", "b1", "W2", "b2")):
        if name in frozen:
            assert t.net.params[k].tobytes() == start[k].tobytes(), name
    assert moved == {"W1", "b1", "W2", "b2"} - set(frozen)  # the others trained


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_a_bias_free_layer_keeps_zero_biases(opt: str) -> None:
    t = trainer(doc(optimizer=OPTIMIZERS[opt], bias_free=[2], init={"scheme": "xavier", "bias": 0.5}))
    assert (t.net.b[1] == 0).all() and (t.net.b[0] == 0.5).all()  # init.bias skips the bias-free layer
    for _ in range(5):
        t.step()
    assert (t.net.b[1] == 0).all() and not (t.net.b[0] == 0.5).all()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"frozen": ["W3"]}, "frozen[0]: 'W3' names no parameter array; the network has W1–W2 or b1–b2"),
        ({"frozen": ["b1", "w1"]}, "frozen[1]: 'w1' names no parameter array"),
        ({"frozen": ["B0"]}, "frozen[0]: 'B0' names no parameter array"),
        ({"frozen": ["b0"]}, "frozen[0]: 'b0' names no parameter array"),
        ({"frozen": ["W"]}, "frozen[0]: 'W' names no parameter array"),
        ({"bias_free": [3]}, "bias_free[0]: there is no weight layer 3; the layers are 1–2"),
        ({"bias_free": [1, 0]}, "bias_free[1]: there is no weight layer 0"),
        ({"bias_free": [2], "biases": [[0, 0, 0], [0.5]]}, "biases[1]: layer 2 is bias_free, so its biases must be 0"),
    ],
)
def test_bad_frozen_and_bias_free_entries_are_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(sc.ScenarioError) as err:
        sc.parse(doc(**changes))
    assert message in str(err.value)


def test_frozen_and_bias_free_are_kept_in_the_document() -> None:
    s = sc.parse(doc(frozen=["W2"], bias_free=[1]))
    dumped = s.model_dump(mode="json", exclude_none=True)
    assert dumped["frozen"] == ["W2"] and dumped["bias_free"] == [1]
    assert sc.frozen_indices(s) == {2, 1}
    assert sc.frozen_indices(sc.parse(doc())) == set()


# --- the fixed-bias worked example -------------------------------------------------------------
def test_worked_example_still_trains_its_biases() -> None:
    d = sc.preset("worked-example")
    assert "frozen" not in d and "bias_free" not in d
    t = trainer(d)
    t.step()
    assert t.net.b[0][0] != 0.35 and t.net.b[1][0] != 0.6


def test_fixed_bias_variant_is_the_worked_example_with_frozen_biases() -> None:
    fixed, plain = sc.preset("worked-example-fixed-bias"), sc.preset("worked-example")
    assert fixed["frozen"] == ["b1", "b2"]
    same = {k: v for k, v in fixed.items() if k not in ("name", "title", "description", "frozen")}
    assert same == {k: v for k, v in plain.items() if k not in ("name", "title", "description")}


def by_hand(rounds: int, hidden_from_updated: bool) -> tuple[float, float, float]:
    """The 2-2-2 example with fixed biases in plain floats: (cost after one round, outputs after `rounds`).

    `hidden_from_updated` back-propagates the hidden deltas through the output weights after their
    update, as the code behind the published figures does; the exact gradient uses them before.
    """
    sig = lambda z: 1.0 / (1.0 + math.exp(-z))  # noqa: E731
    x, t = (0.05, 0.10), (0.01, 0.99)
    w1 = [[0.15, 0.20], [0.25, 0.30]]
    w2 = [[0.40, 0.45], [0.50, 0.55]]
    b1, b2, lr = 0.35, 0.60, 0.5
    first = 0.0
    for r in range(rounds + 1):
        h = [sig(w1[j][0] * x[0] + w1[j][1] * x[1] + b1) for j in range(2)]
        o = [sig(w2[k][0] * h[0] + w2[k][1] * h[1] + b2) for k in range(2)]
        if r == 1:
            first = sum(0.5 * (t[k] - o[k]) ** 2 for k in range(2))
        if r == rounds:
            return first, o[0], o[1]
        d_o = [(o[k] - t[k]) * o[k] * (1 - o[k]) for k in range(2)]
        new_w2 = [[w2[k][j] - lr * d_o[k] * h[j] for j in range(2)] for k in range(2)]
        back = new_w2 if hidden_from_updated else w2
        d_h = [(d_o[0] * back[0][j] + d_o[1] * back[1][j]) * h[j] * (1 - h[j]) for j in range(2)]
        w1 = [[w1[j][i] - lr * d_h[j] * x[i] for i in range(2)] for j in range(2)]
        w2 = new_w2
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def fixed_run() -> tuple[float, np.ndarray]:
    t = trainer(sc.preset("worked-example-fixed-bias"))
    t.step()
    first = t.evaluate(t.x, t.y)[0]
    for _ in range(9_999):
        t.step()
    assert first is not None and (t.net.b[0] == 0.35).all() and (t.net.b[1] == 0.6).all()
    return first, t.net.predict(t.x)[0]


def test_fixed_bias_figures_to_the_printed_digits(fixed_run: tuple[float, np.ndarray]) -> None:
    first, out = fixed_run
    assert f"{first:.9f}" == "0.291027774"
    assert [f"{v:.9f}" for v in out] == ["0.015913620", "0.984064274"]


def test_fixed_bias_figures_match_a_hand_calculation(fixed_run: tuple[float, np.ndarray]) -> None:
    first, out = fixed_run
    hand = by_hand(10_000, hidden_from_updated=False)
    assert first == pytest.approx(hand[0], abs=1e-14)
    np.testing.assert_allclose(out, hand[1:], atol=1e-12)


def test_published_fixed_bias_figures_come_from_updated_output_weights() -> None:
    # 0.291027924, 0.015912196 and 0.984065734 are printed with the example; they are what the
    # hidden deltas give when taken through the already-updated output weights
    first, o1, o2 = by_hand(10_000, hidden_from_updated=True)
    assert (f"{first:.9f}", f"{o1:.9f}", f"{o2:.9f}") == ("0.291027924", "0.015912196", "0.984065734")
