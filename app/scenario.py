"""The scenario document: a JSON object that fully determines a run, its limits, and building it."""

import json
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from app import rows
from app.nn import datasets
from app.nn.losses import REQUIRED_OUTPUT
from app.nn.network import Network
from app.nn.optimizers import Optimizer, make
from app.nn.regularization import Regularization
from app.nn.trainer import Trainer

# The limits, in one table. docs/scenario.md lists them and a test keeps the two in step.
LIMITS = {
    "max_weight_layers": 10,
    "max_units": 64,
    "max_examples": 10_000,
    "max_abs_value": 1e6,
    "max_learning_rate": 100.0,
    "max_reg_rate": 10.0,
    "max_noise": 10.0,
    "max_seed": 2**32 - 1,
}

Value = Annotated[float, Field(ge=-LIMITS["max_abs_value"], le=LIMITS["max_abs_value"])]
LearningRate = Annotated[float, Field(gt=0, le=LIMITS["max_learning_rate"])]
ParamName = Annotated[str, Field(max_length=8)]  # "W1", "b2": a weight matrix or a bias vector
ActivationName = Literal["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"]
LossName = Literal["squared_error", "binary_cross_entropy", "cross_entropy"]
GeneratorName = Literal[
    "circle",
    "xor",
    "gaussian",
    "spiral",
    "moons",
    "three_class",
    "regression_plane",
    "regression_sine",
    "and",
    "or",
    "xor_gate",
    "encoder_8_3_8",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SGD(Strict):
    type: Literal["sgd"] = "sgd"
    learning_rate: LearningRate = 0.03


class Momentum(Strict):
    type: Literal["momentum"]
    learning_rate: LearningRate = 0.03
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9


class Adam(Strict):
    type: Literal["adam"]
    learning_rate: LearningRate = 0.001
    beta1: Annotated[float, Field(ge=0, lt=1)] = 0.9
    beta2: Annotated[float, Field(ge=0, lt=1)] = 0.999
    epsilon: Annotated[float, Field(gt=0, le=1)] = 1e-8


class LBFGS(Strict):
    type: Literal["lbfgs"]
    learning_rate: LearningRate = 1.0
    memory: Annotated[int, Field(ge=1, le=50)] = 10


OptimizerSpec = Annotated[SGD | Momentum | Adam | LBFGS, Field(discriminator="type")]


class Regularizer(Strict):
    type: Literal["none", "l1", "l2"] = "none"
    rate: Annotated[float, Field(ge=0, le=LIMITS["max_reg_rate"])] = 0.0


class Init(Strict):
    scheme: Literal["xavier", "he", "uniform", "zeros"] = "xavier"
    scale: Annotated[float, Field(gt=0, le=100)] = 0.5  # uniform draws from [-scale, scale]
    bias: Value = 0.0


if TYPE_CHECKING:
    Matrix = np.ndarray
else:  # data rows: a float64 array once checked
    Matrix = rows.matrix_type(LIMITS["max_abs_value"])


class Points(Strict):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    x: Matrix
    y: Matrix

    def __eq__(self, other: object) -> bool:  # arrays compare element by element
        return isinstance(other, Points) and all(
            np.array_equal(a, b) for a, b in ((self.x, other.x), (self.y, other.y))
        )

    __hash__ = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _rows(self) -> "Points":
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} rows but y has {len(self.y)}")
        return self


class GivenData(Strict):
    train: Points
    test: Points | None = None


class GeneratedData(Strict):
    generator: GeneratorName
    samples: Annotated[int, Field(ge=2, le=LIMITS["max_examples"])] = 500
    noise: Annotated[float, Field(ge=0, le=LIMITS["max_noise"])] = 0.0
    train_fraction: Annotated[float, Field(gt=0, le=1)] = 0.5


def _data_kind(d: Any) -> str:
    # tell the two kinds apart by the generator key, so a bad document is checked against one kind only
    return "generated" if isinstance(d, GeneratedData) or (isinstance(d, dict) and "generator" in d) else "given"


DataSpec = Annotated[
    Annotated[GivenData, Tag("given")] | Annotated[GeneratedData, Tag("generated")], Discriminator(_data_kind)
]


class Scenario(Strict):
    """The whole setup of a run; the same scenario gives a bit-identical run."""

    name: Annotated[str, Field(max_length=100)] = "untitled"
    title: Annotated[str, Field(max_length=200)] = ""
    description: Annotated[str, Field(max_length=4000)] = ""
    layers: Annotated[list[Annotated[int, Field(ge=1, le=LIMITS["max_units"])]], Field(min_length=2)]
    activations: list[ActivationName]
    loss: LossName = "squared_error"
    optimizer: OptimizerSpec = Field(default_factory=SGD)
    regularization: Regularizer = Field(default_factory=Regularizer)
    batch_size: Annotated[int, Field(ge=1, le=LIMITS["max_examples"])] = 10
    shuffle: bool = False
    seed: Annotated[int, Field(ge=0, le=LIMITS["max_seed"])] = 0
    init: Init = Field(default_factory=Init)
    weights: list[list[list[Value]]] | None = None
    biases: list[list[Value]] | None = None
    frozen: Annotated[list[ParamName], Field(max_length=2 * LIMITS["max_weight_layers"])] = Field(default_factory=list)
    bias_free: Annotated[list[int], Field(max_length=LIMITS["max_weight_layers"])] = Field(default_factory=list)
    data: DataSpec

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        n, depth = self.layers, len(self.layers) - 1
        if depth > LIMITS["max_weight_layers"]:
            raise ValueError(f"layers: at most {LIMITS['max_weight_layers']} weight layers, got {depth}")
        if len(self.activations) != depth:
            raise ValueError(f"activations: need one per weight layer ({depth}), got {len(self.activations)}")
        if "softmax" in self.activations[:-1]:
            raise ValueError("activations: softmax is allowed on the output layer only")
        out = self.activations[-1]
        need = REQUIRED_OUTPUT.get(self.loss)
        if need and out != need:
            raise ValueError(f"loss: {self.loss} needs a {need} output layer, not {out}")
        if out == "softmax" and self.loss != "cross_entropy":
            raise ValueError("loss: a softmax output layer needs the cross_entropy loss")
        if out == "softmax" and n[-1] < 2:
            raise ValueError("layers: a softmax output needs at least 2 units")
        self._check_params()
        self._check_frozen()
        self._check_data()
        return self

    def _check_frozen(self) -> None:
        depth = len(self.layers) - 1
        names = f"W1–W{depth} or b1–b{depth}" if depth > 1 else "W1 or b1"
        for k, name in enumerate(self.frozen):
            if param_index(name, depth) is None:
                raise ValueError(f"frozen[{k}]: {name!r} names no parameter array; the network has {names}")
        for k, l in enumerate(self.bias_free):
            if not 1 <= l <= depth:
                raise ValueError(f"bias_free[{k}]: there is no weight layer {l}; the layers are 1–{depth}")
            if self.biases is not None and any(v != 0 for v in self.biases[l - 1]):
                raise ValueError(f"biases[{l - 1}]: layer {l} is bias_free, so its biases must be 0")

    def _check_params(self) -> None:
        n = self.layers
        if self.weights is not None:
            if len(self.weights) != len(n) - 1:
                raise ValueError(f"weights: need {len(n) - 1} matrices, got {len(self.weights)}")
            for l, w in enumerate(self.weights, start=1):
                if len(w) != n[l] or any(len(row) != n[l - 1] for row in w):
                    raise ValueError(f"weights[{l - 1}]: layer {l} needs shape {n[l]}x{n[l - 1]}")
        if self.biases is not None:
            if len(self.biases) != len(n) - 1:
                raise ValueError(f"biases: need {len(n) - 1} vectors, got {len(self.biases)}")
            for l, b in enumerate(self.biases, start=1):
                if len(b) != n[l]:
                    raise ValueError(f"biases[{l - 1}]: layer {l} needs {n[l]} entries, got {len(b)}")

    def _check_data(self) -> None:
        n_in, n_out = self.layers[0], self.layers[-1]
        d = self.data
        if isinstance(d, GeneratedData):
            task, dim = datasets.GENERATORS[d.generator]
            if dim != n_in:
                raise ValueError(f"data.generator: {d.generator} has {dim} inputs but layers[0] is {n_in}")
            want = {"binary": (1, 2), "multiclass": (3,), "regression": (1,), "identity": (dim,)}[task]
            if n_out not in want:
                raise ValueError(
                    f"data.generator: {d.generator} needs {' or '.join(map(str, want))} output units, got {n_out}"
                )
            n_train = 4 if d.generator in ("and", "or", "xor_gate") else 8 if d.generator == "encoder_8_3_8" else None
            if n_train is None:
                n_train = max(1, int(round(d.train_fraction * d.samples)))
        else:
            total = len(d.train.x) + (len(d.test.x) if d.test else 0)
            if total > LIMITS["max_examples"]:
                raise ValueError(f"data: at most {LIMITS['max_examples']} examples, got {total}")
            if not len(d.train.x):
                raise ValueError("data.train: needs at least one example")
            for part, pts in (("train", d.train), ("test", d.test)):
                if pts is None or not len(pts.x):
                    continue
                if pts.x.shape[1] != n_in:
                    raise ValueError(f"data.{part}.x: rows need {n_in} inputs (layers[0]), got {pts.x.shape[1]}")
                if pts.y.shape[1] != n_out:
                    raise ValueError(f"data.{part}.y: rows need {n_out} targets (layers[-1]), got {pts.y.shape[1]}")
                if self.loss in REQUIRED_OUTPUT and ((pts.y < 0) | (pts.y > 1)).any():
                    # cross-entropies are losses only for targets that are probabilities
                    raise ValueError(f"data.{part}.y: {self.loss} needs targets between 0 and 1")
            n_train = len(d.train.x)
        if isinstance(self.optimizer, LBFGS) and self.batch_size < n_train:
            raise ValueError(
                f"batch_size: lbfgs works on the full batch; set batch_size to at least {n_train} (the training set)"
            )


def param_index(name: str, depth: int) -> int | None:
    """Where "W<l>" or "b<l>" sits in the parameter list [W1, b1, W2, b2, ...]; None if it names none."""
    if len(name) < 2 or name[0] not in "Wb" or not name[1:].isdigit() or name[1] == "0":
        return None
    l = int(name[1:])
    return 2 * (l - 1) + (name[0] == "b") if l <= depth else None


def frozen_indices(s: "Scenario") -> set[int]:
    """The parameters training leaves as they are: the `frozen` arrays and the biases of `bias_free` layers."""
    depth = len(s.layers) - 1
    found = {param_index(name, depth) for name in s.frozen} | {2 * (l - 1) + 1 for l in s.bias_free}
    return {k for k in found if k is not None}


# a tagged union puts the member's tag into an error's location; the document has no such level
UNION_TAGS = {"optimizer": {"sgd", "momentum", "adam", "lbfgs"}, "data": {"given", "generated"}}


def describe(err: ValidationError) -> str:
    """One line per problem, each naming the field: 'optimizer.learning_rate: ...'."""
    lines = []
    for e in err.errors():
        loc, prev = "", None
        for part in e["loc"]:
            tag = part in UNION_TAGS.get(str(prev), ())
            prev = part
            if tag:
                continue
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = e["msg"].removeprefix("Value error, ")
        sep = "" if msg.startswith("[") else ": "  # a row and column from matrix(): data.train.x[3][1]
        lines.append(f"{loc}{sep}{msg}" if loc else msg)
    return "; ".join(lines)


def document(s: Scenario) -> bytes:
    """The scenario as the JSON its author wrote (the fields they set), the data rows encoded a
    piece at a time."""
    doc = s.model_dump(mode="json", exclude_unset=True, exclude={"data"})
    if isinstance(s.data, GeneratedData):
        return orjson.dumps({**doc, "data": s.data.model_dump(mode="json", exclude_unset=True)})
    data = rows.encode_parts({"train": s.data.train, "test": s.data.test})
    assert data is not None  # no limit was given
    return orjson.dumps({**doc, "data": orjson.Fragment(data)})


class ScenarioError(ValueError):
    """A scenario that does not validate; the message names every field at fault."""


def parse(doc: Any) -> Scenario:
    if not isinstance(doc, dict):
        raise ScenarioError("scenario: must be a JSON object")
    try:
        return Scenario.model_validate(doc)
    except ValidationError as err:
        raise ScenarioError(describe(err)) from None


# --- presets ------------------------------------------------------------------------------
def preset_names() -> list[str]:
    files = resources.files("app.presets").iterdir()
    return sorted(f.name.removesuffix(".json") for f in files if f.name.endswith(".json"))


def preset(name: str) -> dict[str, Any]:
    """The preset's scenario document; KeyError for an unknown name."""
    if name not in preset_names():
        raise KeyError(name)
    doc: dict[str, Any] = json.loads(resources.files("app.presets").joinpath(f"{name}.json").read_text())
    return doc


# --- building -----------------------------------------------------------------------------
@dataclass
class Built:
    """A scenario turned into arrays: the trainer at step 0 and what the page needs to draw."""

    trainer: Trainer
    task: str
    extent: list[float] | None  # map bounds for 2-D inputs


def binary_low(scenario: Scenario) -> float:
    """The low target of binary labels: -1 for a tanh or linear output, else 0."""
    return -1.0 if scenario.activations[-1] in ("tanh", "linear") else 0.0


def make_optimizer(spec: SGD | Momentum | Adam | LBFGS) -> Optimizer:
    return make(spec.type, **spec.model_dump(exclude={"type"}))


def _task_of(y: np.ndarray, n_out: int) -> str:
    """Infer the task of given points: one-hot rows are multiclass, two values binary."""
    if n_out > 1:  # elementwise, not np.unique: sorting 640,000 targets holds the interpreter ~7 ms
        one_hot = bool(((y == 0.0) | (y == 1.0)).all()) and bool((y.sum(axis=1) == 1).all())
        return "multiclass" if one_hot else "regression"
    values = np.unique(y)
    within = lambda allowed: bool(np.isin(values, allowed).all())  # noqa: E731 (no Python set of every value)
    if len(values) <= 2 and (within((0.0, 1.0)) or within((-1.0, 1.0))):
        return "binary"
    return "regression"


def build(s: Scenario) -> Built:
    rng_data = np.random.default_rng([s.seed, 0])
    rng_init = np.random.default_rng([s.seed, 1])
    n_out = s.layers[-1]
    x_test = y_test = None
    if isinstance(s.data, GeneratedData):
        d = s.data
        x, labels = datasets.generate(d.generator, d.samples, d.noise, rng_data)
        task, _ = datasets.GENERATORS[d.generator]
        y = datasets.targets(labels, task, n_out, binary_low(s))
        if task == "binary" and n_out == 2:
            task = "multiclass"
        if task == "identity":
            task = "multiclass"  # one-hot in, one-hot out: scored by argmax
        if d.generator not in datasets.FIXED and d.train_fraction < 1:
            x, y, x_test, y_test = datasets.split(x, y, d.train_fraction, rng_data)
    else:
        # the checked float64 arrays themselves, read-only: data is never changed in place
        x, y = s.data.train.x, s.data.train.y
        if s.data.test is not None and len(s.data.test.x):
            x_test, y_test = s.data.test.x, s.data.test.y
        task = _task_of(y, n_out)
    ws, bs = datasets.init_weights(s.layers, s.init.scheme, rng_init, s.init.scale, s.init.bias)
    if s.weights is not None:
        ws = [np.array(w, dtype=np.float64) for w in s.weights]
    if s.biases is not None:
        bs = [np.array(b, dtype=np.float64) for b in s.biases]
    for l in s.bias_free:  # no bias at all: 0, and frozen below
        bs[l - 1] = np.zeros(s.layers[l])
    net = Network(s.layers, list(s.activations), ws, bs)
    reg = Regularization(s.regularization.type, s.regularization.rate)
    low = binary_low(s) if isinstance(s.data, GeneratedData) else (-1.0 if (y < 0).any() else 0.0)
    threshold = (low + 1.0) / 2  # halfway between the two labels
    trainer = Trainer(
        net,
        make_optimizer(s.optimizer),
        s.loss,
        reg,
        x,
        y,
        x_test,
        y_test,
        batch_size=s.batch_size,
        shuffle=s.shuffle,
        seed=s.seed,
        task=task,
        threshold=threshold,
        frozen=frozen_indices(s),
    )
    extent = None
    if s.layers[0] == 2:
        pts = x if x_test is None else np.concatenate([x, x_test])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = np.maximum((hi - lo) * 0.1, 0.5)
        extent = [float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])]
    return Built(trainer, task, extent)
