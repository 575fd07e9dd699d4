"""Scenario documents: presets, every class of invalid document, building, batching, determinism."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import scenario as sc
from app.nn.trainer import Trainer
from tests.engine_helpers import doc, on_points, trainer

NAN, INF = float("nan"), float("inf")
LIMITS = sc.LIMITS


def generated(generator: str, data: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """doc() on a generator's data, with `data` added to the data object."""
    return doc(data={"generator": generator, **(data or {})}, **changes)


def invalid(d: Any) -> str:
    with pytest.raises(sc.ScenarioError) as err:
        sc.parse(d)
    return str(err.value)


# --- presets ---------------------------------------------------------------------------------
def test_preset_names_are_the_json_files() -> None:
    from importlib import resources

    files = {f.name for f in resources.files("app.presets").iterdir() if f.name.endswith(".json")}
    assert {f"{n}.json" for n in sc.preset_names()} == files and len(files) >= 10


@pytest.mark.parametrize("name", sc.preset_names())
def test_every_preset_builds_and_takes_a_finite_step(name: str) -> None:
    d = sc.preset(name)
    assert d["name"] == name
    t = sc.build(sc.parse(d)).trainer
    t.step()
    assert t.net.finite() and t.step_count == 1


def test_unknown_preset_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        sc.preset("no-such-preset")


# --- invalid documents -----------------------------------------------------------------------
def set_in(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to one field by dotted path, e.g. 'data.train.x.0.1'."""

    def change(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return change


INVALID = [
    # over the limits
    ("layers", [2] + [3] * 10 + [1], "layers: at most 10 weight layers, got 11"),
    ("layers.1", 65, "layers[1]: Input should be less than or equal to 64"),
    ("batch_size", 10_001, "batch_size: Input should be less than or equal to 10000"),
    ("seed", 2**32, "seed: Input should be less than or equal to 4294967295"),
    ("regularization", {"type": "l2", "rate": 11}, "regularization.rate: Input should be less than or equal to 10"),
    # NaN and inf, wherever numbers are
    ("data.train.x.0.1", NAN, "data.train.x[0][1]: Input should be a finite number"),
    ("data.train.y.3.0", INF, "data.train.y[3][0]: Input should be a finite number"),
    ("optimizer.learning_rate", NAN, "optimizer.learning_rate: Input should be a finite number"),
    ("regularization", {"type": "l1", "rate": NAN}, "regularization.rate: Input should be a finite number"),
    ("init", {"bias": -INF}, "init.bias: Input should be a finite number"),
    ("data.train.x.0.0", 1e6 + 1, "data.train.x[0][0]: Input should be less than or equal to 1000000"),
    # learning rate
    ("optimizer.learning_rate", 0, "optimizer.learning_rate: Input should be greater than 0"),
    ("optimizer.learning_rate", 100.5, "optimizer.learning_rate: Input should be less than or equal to 100"),
    ("optimizer", {"type": "adam", "beta2": 1.0}, "optimizer.beta2: Input should be less than 1"),
    ("optimizer", {"type": "momentum", "momentum": INF}, "optimizer.momentum: Input should be a finite number"),
    ("optimizer", {"type": "rmsprop"}, "optimizer: Input tag 'rmsprop'"),
    # shapes against layers
    ("weights", [[[1.0, 2.0]] * 3], "weights: need 2 matrices, got 1"),
    ("weights", [[[1.0, 2.0]] * 3, [[1.0, 2.0]]], "weights[1]: layer 2 needs shape 1x3"),
    ("weights", [[[1.0]] * 3, [[1.0, 2.0, 3.0]]], "weights[0]: layer 1 needs shape 3x2"),
    ("biases", [[0.0] * 3, [0.0, 0.0]], "biases[1]: layer 2 needs 1 entries, got 2"),
    ("biases", [[0.0] * 3], "biases: need 2 vectors, got 1"),
    ("data.train.x", [[0.0, 0.0, 0.0]] * 4, "data.train.x: rows need 2 inputs (layers[0]), got 3"),
    ("data.train.y", [[0.0, 1.0]] * 4, "data.train.y: rows need 1 targets (layers[-1]), got 2"),
    ("data.train.y", [[0.0]] * 3, "data.train: x has 4 rows but y has 3"),
    ("data.train.x.2", [0.0], "data.train.x[2]: every row must have the same length (2), this one has 1"),
    ("data.test", {"x": [[0.0, 1.0, 2.0]], "y": [[1.0]]}, "data.test.x: rows need 2 inputs"),
    ("data.train", {"x": [], "y": []}, "data.train: needs at least one example"),
    # activations and losses
    ("activations", ["tanh"], "activations: need one per weight layer (2), got 1"),
    ("activations", ["softmax", "sigmoid"], "activations: softmax is allowed on the output layer only"),
    ("activations", ["tanh", "swish"], "activations[1]: Input should be 'sigmoid'"),
    ("loss", "cross_entropy", "loss: cross_entropy needs a softmax output layer, not sigmoid"),
    ("activations", ["tanh", "softmax"], "loss: a softmax output layer needs the cross_entropy loss"),
    ("loss", "hinge", "loss: Input should be 'squared_error'"),
    # unknown and extra keys, missing ones
    ("colour", "red", "colour: Extra inputs are not permitted"),
    ("optimizer.nesterov", True, "optimizer.nesterov: Extra inputs are not permitted"),
    ("data.train.weights", [1.0], "data.train.weights: Extra inputs are not permitted"),
    ("init", {"scheme": "orthogonal"}, "init.scheme: Input should be 'xavier'"),
]


@pytest.mark.parametrize("path, value, message", INVALID, ids=[f"{p}={v!r}"[:40] for p, v, _ in INVALID])
def test_invalid_document_names_the_field(path: str, value: Any, message: str) -> None:
    d = doc()
    set_in(path, value)(d)
    assert message in invalid(d)


@pytest.mark.parametrize(
    "d, message",
    [
        (generated("circle", {"samples": 10_001}), "data.samples: Input should be less than or equal to 10000"),
        (generated("blob"), "data.generator: Input should be 'circle'"),
        (generated("circle", {"noise": NAN}), "data.noise: Input should be a finite number"),
        (generated("circle", {"noise": 10.5}), "data.noise: Input should be less than or equal to 10"),
        (generated("circle", {"train_fraction": 0}), "data.train_fraction: Input should be greater than 0"),
        (generated("circle", {"extra": 1}), "data.extra: Extra inputs are not permitted"),
        (generated("regression_sine"), "data.generator: regression_sine has 1 inputs but layers[0] is 2"),
        (generated("three_class"), "data.generator: three_class needs 3 output units, got 1"),
        (
            generated("and", layers=[2, 3], activations=["sigmoid"]),
            "data.generator: and needs 1 or 2 output units, got 3",
        ),
        (on_points([[0.0]] * 10_001, [[0.0]] * 10_001), "data: at most 10000 examples, got 10001"),
        (doc(layers=[2, 1], activations=["softmax"], loss="cross_entropy"), "layers: a softmax output needs at least"),
        (generated("and", layers=[2, 1], activations=["tanh"], loss="binary_cross_entropy"), "loss: binary_cross_"),
        (doc(optimizer={"type": "lbfgs"}, batch_size=3), "batch_size: lbfgs works on the full batch"),
        (generated("circle", optimizer={"type": "lbfgs"}, batch_size=249), "set batch_size to at least 250"),
        ({k: v for k, v in doc().items() if k != "data"}, "data: Field required"),
        (doc(data=5), "data: Input should be a valid dictionary"),
    ],
    ids=lambda v: "" if isinstance(v, dict) else str(v)[:40],
)
def test_invalid_whole_document_names_the_field(d: dict[str, Any], message: str) -> None:
    assert message in invalid(d)


@pytest.mark.parametrize("d", [[], "circle", 3, None])
def test_a_document_must_be_an_object(d: Any) -> None:
    assert invalid(d) == "scenario: must be a JSON object"


def test_a_bad_value_is_reported_once_against_its_own_kind_of_data() -> None:
    # given points are not also checked as generated data (no bogus "generator: Field required")
    d = doc()
    d["data"]["train"]["x"][0][0] = NAN
    assert invalid(d) == "data.train.x[0][0]: Input should be a finite number"


def test_every_problem_is_listed() -> None:
    msg = invalid(doc(seed=-1, batch_size=0))
    assert "seed:" in msg and "batch_size:" in msg and msg.count(";") == 1


@pytest.mark.parametrize(
    "d",
    [
        doc(layers=[2] + [64] * 9 + [1], activations=["tanh"] * 10),  # 10 weight layers of 64 units
        doc(optimizer={"type": "sgd", "learning_rate": LIMITS["max_learning_rate"]}, seed=LIMITS["max_seed"]),
        on_points([[0.0]] * 10_000, [[0.0]] * 10_000, batch_size=10_000),
        generated("circle", {"samples": 10_000, "noise": LIMITS["max_noise"]}),
        doc(regularization={"type": "l1", "rate": LIMITS["max_reg_rate"]}, init={"bias": LIMITS["max_abs_value"]}),
        generated("and", optimizer={"type": "lbfgs"}),  # the gate has 4 examples, the batch is 4
    ],
)
def test_limits_themselves_are_allowed(d: dict[str, Any]) -> None:
    sc.parse(d)


# --- building --------------------------------------------------------------------------------
@pytest.mark.parametrize("out, low", [("tanh", -1.0), ("linear", -1.0), ("sigmoid", 0.0), ("relu", 0.0)])
def test_binary_labels_follow_the_output_activation(out: str, low: float) -> None:
    b = sc.build(sc.parse(generated("and", activations=["tanh", out])))
    assert b.trainer.y.ravel().tolist() == [low, low, low, 1.0]
    assert b.task == "binary" and b.trainer.threshold == (low + 1) / 2


def test_two_binary_outputs_are_one_hot_classes() -> None:
    b = sc.build(
        sc.parse(generated("xor_gate", layers=[2, 3, 2], activations=["tanh", "softmax"], loss="cross_entropy"))
    )
    assert b.trainer.y.tolist() == [[1, 0], [0, 1], [0, 1], [1, 0]] and b.task == "multiclass"


def test_fixed_sets_have_no_test_set() -> None:
    t = trainer(generated("and", {"samples": 50, "train_fraction": 0.5}))
    assert len(t.x) == 4 and t.x_test is None


@pytest.mark.parametrize("fraction, n_train, n_test", [(0.5, 100, 100), (0.75, 150, 50), (1.0, 200, None)])
def test_train_fraction_splits_generated_data(fraction: float, n_train: int, n_test: int | None) -> None:
    t = trainer(generated("gaussian", {"samples": 200, "train_fraction": fraction}))
    assert len(t.x) == n_train
    assert (t.x_test is None) if n_test is None else (t.x_test is not None and len(t.x_test) == n_test)


@pytest.mark.parametrize(
    "y, n_out, task",
    [
        ([[1, 0, 0], [0, 0, 1]], 3, "multiclass"),
        ([[0], [1]], 1, "binary"),
        ([[-1], [1]], 1, "binary"),
        ([[0.5], [1]], 1, "regression"),
        ([[1, 1, 0], [0, 0, 1]], 3, "regression"),
    ],
)
def test_task_of_given_points_is_read_from_the_targets(y: list[list[float]], n_out: int, task: str) -> None:
    d = on_points([[0.0, 1.0], [1.0, 0.0]], y, activations=["tanh", "linear"], batch_size=2)
    assert sc.build(sc.parse(d)).task == task


def test_given_weights_replace_the_initialization() -> None:
    t = trainer(sc.preset("worked-example"))
    assert t.net.w[1].tolist() == [[0.4, 0.45], [0.5, 0.55]] and t.net.b[0].tolist() == [0.35, 0.35]


def test_extent_pads_the_inputs_of_2d_data() -> None:
    b = sc.build(sc.parse(doc()))  # x spans [0, 1] on both axes; padding is max(10%, 0.5)
    assert b.extent == [-0.5, 1.5, -0.5, 1.5]
    assert sc.build(sc.parse(sc.preset("regression-sine"))).extent is None


# --- batching --------------------------------------------------------------------------------
def counting(n: int, batch_size: int, shuffle: bool = False, seed: int = 0) -> Trainer:
    """n examples whose single input is their own index, so a batch shows which rows it took."""
    x = [[float(i)] for i in range(n)]
    return trainer(on_points(x, x, activations=["tanh", "linear"], batch_size=batch_size, shuffle=shuffle, seed=seed))


def epoch_orders(t: Trainer, epochs: int) -> list[list[int]]:
    """Per epoch, the example indices in the order the batches took them."""
    orders: list[list[int]] = [[] for _ in range(epochs)]
    while t.epochs_done < epochs:
        batch = t.step(trace=True)[0]
        assert batch["x"].ravel().tolist() == batch["indices"].tolist()
        orders[batch["epoch"] - 1] += batch["indices"].tolist()
    return orders


def test_without_shuffle_batches_go_in_order_and_the_last_is_partial() -> None:
    t = counting(7, 3)
    sizes = [len(t.step(trace=True)[0]["indices"]) for _ in range(3)]
    assert sizes == [3, 3, 1] and t.epochs_done == 1
    assert epoch_orders(counting(7, 3), 2) == [list(range(7))] * 2


def test_shuffle_reshuffles_every_epoch_reproducibly_from_the_seed() -> None:
    first = epoch_orders(counting(12, 5, shuffle=True, seed=4), 3)
    assert all(sorted(o) == list(range(12)) for o in first)  # each epoch visits every example once
    assert first[0] != first[1] != first[2] and first[0] != list(range(12))
    assert epoch_orders(counting(12, 5, shuffle=True, seed=4), 3) == first
    assert epoch_orders(counting(12, 5, shuffle=True, seed=5), 3) != first


def test_steps_count_from_one_and_the_epoch_event_follows_the_step_that_ends_it() -> None:
    t = counting(5, 2)
    seen = []
    for _ in range(4):
        events = t.step(trace=True)
        seen.append([(e["type"], e["step"]) for e in events if e["type"] in ("batch", "epoch")])
        assert events[-1]["type"] == ("epoch" if t.offset == 0 else "update")
    assert seen == [[("batch", 1)], [("batch", 2)], [("batch", 3), ("epoch", 3)], [("batch", 4)]]


def test_epoch_event_reports_the_whole_sets_at_the_new_weights() -> None:
    t = counting(5, 5)
    epoch = t.step(trace=True)[-1]
    losses, _ = t.net.losses(t.x, t.y, t.loss)
    assert epoch == {**epoch, "epoch": 1, "step": 1, "train_loss": float(losses.mean()), "test_loss": None}


def test_step_zero_epoch_event() -> None:
    t = trainer(sc.preset("worked-example"))
    assert t.epoch_event()["epoch"] == 0 and t.epoch_event()["step"] == 0


# --- determinism -----------------------------------------------------------------------------
def run(d: dict[str, Any], steps: int) -> list[bytes]:
    t = trainer(d)
    for _ in range(steps):
        t.step()
    return [p.tobytes() for p in t.net.params]


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(sc.preset_names()), st.integers(0, LIMITS["max_seed"]), st.integers(1, 12))
def test_the_same_scenario_gives_bit_identical_weights(name: str, seed: int, steps: int) -> None:
    d = {**sc.preset(name), "seed": seed}
    assert run(d, steps) == run(d, steps)


def test_another_seed_gives_another_run() -> None:
    d = sc.preset("moons")
    assert run(d, 3) != run({**d, "seed": 2}, 3)


def test_building_does_not_share_arrays_with_the_document() -> None:
    d = sc.preset("worked-example")
    t = trainer(d)
    t.step()
    assert sc.parse(d).weights == sc.preset("worked-example")["weights"]
    assert not np.shares_memory(t.x, t.net.w[0])
