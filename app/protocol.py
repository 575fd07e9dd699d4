"""The websocket protocol: commands (a union on "type"), the events' schema (app/events.py),
and their parsing (the JSON rules and the one encoder are in app/codec.py).

docs/protocol.md documents every type here; a test keeps the two in step. The JSON Schema
served at /api/protocol.json is generated from these models.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, ValidationError, model_validator

from app.codec import ProtocolError, encode, strict_loads  # noqa: F401  (encode: the one encoder)
from app.conditions import MAX_BREAKPOINTS, Breakpoint
from app.events import EVENT_TYPES, EVENTS  # noqa: F401  (the events' half of the protocol)
from app.scenario import LIMITS, OptimizerSpec, Regularizer, describe

Param = Annotated[float, Field(ge=-LIMITS["max_abs_value"], le=LIMITS["max_abs_value"])]
Layer = Annotated[int, Field(ge=1, le=LIMITS["max_weight_layers"])]
Unit = Annotated[int, Field(ge=0, lt=LIMITS["max_units"])]
MAX_STEP_COUNT = 100_000


class Command(BaseModel):
    # strict: `true` is not 1 and "1" is not a number (an int is still a float)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True, strict=True)


class Load(Command):
    """Load a scenario document, a preset by name, or a stored scenario by `ref` (exactly one)."""

    type: Literal["load"]
    scenario: dict[str, Any] | None = None
    preset: str | None = None
    ref: Annotated[str, Field(min_length=1, max_length=100)] | None = None  # an id from POST /api/scenarios
    _stored: Any = PrivateAttr(default=None)  # the uploaded Scenario a `ref` names, found by the web layer

    @model_validator(mode="after")
    def _one(self) -> "Load":
        if sum(v is not None for v in (self.scenario, self.preset, self.ref)) != 1:
            raise ValueError("give exactly one of scenario, preset and ref")
        return self


class Next(Command):
    """Send exactly the next event of the current step."""

    type: Literal["next"]


class Step(Command):
    """Finish the current step, then run count - 1 more."""

    type: Literal["step"]
    count: Annotated[int, Field(ge=1, le=MAX_STEP_COUNT)] = 1


class Epoch(Command):
    """Run to the end of the current epoch."""

    type: Literal["epoch"]


class Play(Command):
    """Animate phase by phase at `speed` phases/s, or train flat out with `fps` frames/s."""

    type: Literal["play"]
    mode: Literal["animate", "train"] = "animate"
    speed: Annotated[float, Field(ge=0.1, le=120)] = 4.0
    fps: Annotated[int, Field(ge=1, le=60)] | None = None  # None: the server's frame_rate
    # train at most this many steps a second (None: flat out), so a boundary forms at a watchable pace
    steps_per_second: Annotated[float, Field(ge=0.1, le=100_000)] | None = None


class Pause(Command):
    type: Literal["pause"]


class Reset(Command):
    """Back to step 0 with the scenario's initial weights."""

    type: Literal["reset"]


class Seek(Command):
    """Go to step `step` of the history."""

    type: Literal["seek"]
    step: Annotated[int, Field(ge=0)]


class Set(Command):
    """Change hyper-parameters without resetting the weights."""

    type: Literal["set"]
    learning_rate: Annotated[float, Field(gt=0, le=LIMITS["max_learning_rate"])] | None = None
    batch_size: Annotated[int, Field(ge=1, le=LIMITS["max_examples"])] | None = None
    optimizer: OptimizerSpec | None = None
    regularization: Regularizer | None = None

    @model_validator(mode="after")
    def _some_field(self) -> "Set":
        if all(getattr(self, f) is None for f in SET_FIELDS):
            raise ValueError(f"give at least one of {', '.join(SET_FIELDS)}")
        return self


SET_FIELDS = ("learning_rate", "batch_size", "optimizer", "regularization")


class SetWeight(Command):
    """Edit the weight into unit `to` of layer `layer` from unit `from` of layer - 1."""

    type: Literal["set_weight"]
    layer: Layer
    to: Unit
    from_: Unit = Field(alias="from")
    value: Param


class SetBias(Command):
    type: Literal["set_bias"]
    layer: Layer
    unit: Unit
    value: Param


class SetData(Command):
    """Replace the run's data (a scenario's `data`) in place, keeping the weights, optimizer
    state, step and history: an edit, like set_weight."""

    type: Literal["set_data"]
    data: dict[str, Any]  # checked as load checks a scenario's data


Step_ = Annotated[int, Field(ge=0)]


class Gradcheck(Command):
    """Numerical against analytic gradient on the batch of the cursor's step, or of `step`."""

    type: Literal["gradcheck"]
    step: Step_ | None = None  # any step in the history; the cursor stays where it is


class Slice(Command):
    """The batch cost as a function of one weight."""

    type: Literal["slice"]
    layer: Layer
    to: Unit
    from_: Unit = Field(alias="from")
    span: Annotated[float, Field(gt=0, le=100)] = 1.0
    points: Annotated[int, Field(ge=3, le=401)] = 41
    step: Step_ | None = None  # any step in the history; the cursor stays where it is


class Select(Command):
    """Which example of the batch the page highlights."""

    type: Literal["select"]
    example: Annotated[int, Field(ge=0, lt=LIMITS["max_examples"])]


class Part(BaseModel):
    """A part of a command, as strict as a command."""

    model_config = Command.model_config


class WeightValue(Part):
    """One weight's new value: into unit `to` of layer `layer` from unit `from` of layer - 1."""

    layer: Layer
    to: Unit
    from_: Unit = Field(alias="from")
    value: Param


class BranchChange(Part):
    """The one thing run b changes: exactly one field."""

    learning_rate: Annotated[float, Field(gt=0, le=LIMITS["max_learning_rate"])] | None = None
    optimizer: OptimizerSpec | None = None
    batch_size: Annotated[int, Field(ge=1, le=LIMITS["max_examples"])] | None = None
    regularization: Regularizer | None = None
    seed: Annotated[int, Field(ge=0, le=LIMITS["max_seed"])] | None = None  # re-draws the initial weights
    weight: WeightValue | None = None

    @model_validator(mode="after")
    def _one(self) -> "BranchChange":
        given = [f for f in BRANCH_CHANGES if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(BRANCH_CHANGES)}" + (f", not {len(given)}" if given else "")
            )
        return self


BRANCH_CHANGES = ("learning_rate", "optimizer", "batch_size", "regularization", "seed", "weight")


class Branch(Command):
    """Start run b from step `from_step` of this run with one change; both then train in lockstep."""

    type: Literal["branch"]
    from_step: Annotated[int, Field(ge=0)]
    change: BranchChange
    tolerance: Annotated[float, Field(gt=0, le=1e6)] = 1e-3  # |loss_b - loss_a| beyond it is a difference


class BranchKeep(Command):
    """Keep run `branch` ("a": this run, "b": the branch) and drop the other."""

    type: Literal["branch_keep"]
    branch: Literal["a", "b"]


class BranchDrop(Command):
    """Drop run `branch` ("a" or "b") and keep the other."""

    type: Literal["branch_drop"]
    branch: Literal["a", "b"]


class Breakpoints(Command):
    """Replace the breakpoints set on the run (`on: []` clears them; nonfinite is always on)."""

    type: Literal["breakpoints"]
    on: Annotated[list[Breakpoint], Field(max_length=MAX_BREAKPOINTS)]

    @model_validator(mode="after")
    def _once(self) -> "Breakpoints":
        seen: set[str] = set()
        for i, b in enumerate(self.on):
            if b.kind in seen:
                raise ValueError(f"on[{i}]: a second {b.kind!r} breakpoint; give each kind once (step may repeat)")
            if b.kind != "step":
                seen.add(b.kind)
        return self


class Graph(Command):
    """The computation graph of unit `unit` of layer `layer` for training example `example`;
    without layer and unit, the whole network's (at most GRAPH_MAX_UNITS units)."""

    type: Literal["graph"]
    layer: Layer | None = None
    unit: Unit | None = None
    example: Annotated[int, Field(ge=0, lt=LIMITS["max_examples"])] = 0

    @model_validator(mode="after")
    def _both(self) -> "Graph":
        if (self.layer is None) != (self.unit is None):
            raise ValueError("give both layer and unit (one unit's graph), or neither (the whole network's)")
        return self


class Claim(Command):
    """Become a presenter of the room this connection follows, with its presenter token."""

    type: Literal["claim"]
    token: Annotated[str, Field(min_length=1, max_length=200)]


class Fork(Command):
    """Leave the room for a private session at exactly the room's current state."""

    type: Literal["fork"]


class Follow(Command):
    """Follow the room `room` (a join code) as a viewer."""

    type: Literal["follow"]
    room: Annotated[str, Field(min_length=1, max_length=20)]


class Ask(Command):
    """Open scene `scene` (0-based) of lesson `lesson`'s question to every member of the room."""

    type: Literal["ask"]
    lesson: Annotated[str, Field(min_length=1, max_length=60)]
    scene: Annotated[int, Field(ge=0, lt=1000)]


class Answer(Command):
    """A member's answer to the open question: a number, or one of its choices. The last one counts."""

    type: Literal["answer"]
    question: Annotated[str, Field(min_length=1, max_length=40)]
    value: Annotated[float, Field(ge=-1e12, le=1e12)] | Annotated[str, Field(max_length=300)]
    _box: Any = PrivateAttr(default=None)  # the sender's outbox, set by its connection


class Reveal(Command):
    """Close the question and send every member the engine's answer and the class's counts."""

    type: Literal["reveal"]
    question: Annotated[str, Field(min_length=1, max_length=40)]


class Ping(Command):
    """Answered by `pong`: a liveness check any member may send."""

    type: Literal["ping"]


AnyCommand = Annotated[
    Load
    | Next
    | Step
    | Epoch
    | Play
    | Pause
    | Reset
    | Seek
    | Set
    | SetWeight
    | SetBias
    | SetData
    | Gradcheck
    | Slice
    | Select
    | Branch
    | BranchKeep
    | BranchDrop
    | Breakpoints
    | Graph
    | Claim
    | Fork
    | Follow
    | Ping
    | Ask
    | Answer
    | Reveal,
    Field(discriminator="type"),
]
# what a viewer of a room may send; anything else would change the room's session
VIEWER_COMMANDS = frozenset({"fork", "follow", "claim", "ping", "answer"})
COMMANDS: TypeAdapter[Any] = TypeAdapter(AnyCommand)
COMMAND_TYPES = sorted(COMMANDS.json_schema()["discriminator"]["mapping"])


def schema() -> dict[str, Any]:
    return {"commands": COMMANDS.json_schema(by_alias=True), "events": EVENTS.json_schema(by_alias=True)}


# --- parsing (app/codec.py holds the JSON rules and the encoder) ----------------------------
_NUMBER_ERRORS = {"int_type", "float_type"}


def parse_command(text: str | bytes) -> Any:
    """Text of one message -> a command model, or ProtocolError naming the problem.

    Refused: what strict_loads refuses (app/codec.py), and values of the wrong JSON type
    (`true` or "1" for a number).
    """
    doc = strict_loads(text, COMMAND_TYPES)
    if not isinstance(doc, dict):
        raise ProtocolError("invalid_json", "a command must be a JSON object")
    kind = doc.get("type")
    if kind not in COMMAND_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"unknown command type {kind!r}; expected one of {', '.join(COMMAND_TYPES)}",
            kind if isinstance(kind, str) else None,
        )
    try:
        return COMMANDS.validate_python(doc, strict=True)  # strict reaches the nested optimizer too
    except ValidationError as err:
        message = describe(err)
        if any(e["type"] in _NUMBER_ERRORS and isinstance(e["input"], bool | str) for e in err.errors()):
            message += " (true, false and strings are not numbers)"
        raise ProtocolError("invalid_command", message, kind) from None
