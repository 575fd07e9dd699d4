"""The websocket protocol's events: their schema. The events themselves are the engine's and
the session's dicts, encoded by app.protocol.encode; docs/protocol.md documents every type and a
test keeps the two in step.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

Matrix = list[list[float]]


class Event(BaseModel):
    pass


class PhaseRef(BaseModel):
    event: Literal["batch", "forward", "output_error", "backward", "update"]
    layer: int | None


class History(BaseModel):
    first: int
    last: int


class RoomInfo(BaseModel):
    code: str
    role: Literal["presenter", "viewer"]
    viewers: int


class PausedReason(BaseModel):
    kind: str  # nonfinite, a breakpoint's kind, disconnected, unread or restored
    step: int | None
    layer: int | None
    unit: int | None
    message: str


class StateEvent(Event):
    type: Literal["state"]
    session: str | None
    step: int
    epoch: int
    phase: PhaseRef
    scenario: dict[str, Any]
    weights: list[Matrix]
    biases: list[list[float]]
    history: History
    playing: Literal["animate", "train"] | None
    paused_reason: "PausedReason | None"
    breakpoints: list[dict[str, Any]]
    selected: int
    task: Literal["binary", "multiclass", "regression"]
    curve: list[list[float | None]]
    room: RoomInfo | None


class Points(BaseModel):
    x: Matrix
    y: Matrix
    size: int | None = None  # the examples in the set, when x and y hold only its first rows


class DatasetEvent(Event):
    type: Literal["dataset"]
    train: Points
    test: Points | None
    extent: list[float] | None


class BatchEvent(Event):
    type: Literal["batch"]
    step: int
    epoch: int
    indices: list[int]
    x: Matrix
    y: Matrix
    size: int | None = None  # examples in the batch, when its per-example arrays were trimmed
    rows: int | None = None  # the examples they hold


class ForwardEvent(Event):
    type: Literal["forward"]
    step: int
    layer: int
    z: Matrix
    a: Matrix


class OutputErrorEvent(Event):
    type: Literal["output_error"]
    step: int
    loss: float
    losses: list[float]
    output: Matrix
    target: Matrix
    dloss: Matrix
    delta: Matrix


class BackwardEvent(Event):
    type: Literal["backward"]
    step: int
    layer: int
    delta: Matrix
    grad_w: Matrix
    grad_b: list[float]
    delta_input: Matrix | None = None  # layer 1 only: dE/dx per example, batch x n_0


class UpdateEvent(Event):
    type: Literal["update"]
    step: int
    layer: int
    weights: Matrix
    biases: list[float]
    dw: Matrix
    db: list[float]


class EpochEvent(Event):
    type: Literal["epoch"]
    epoch: int
    step: int
    train_loss: float | None
    test_loss: float | None
    train_accuracy: float | None
    test_accuracy: float | None


class FrameEvent(Event):
    type: Literal["frame"]
    step: int
    epoch: int
    train_loss: float | None
    test_loss: float | None
    train_accuracy: float | None
    test_accuracy: float | None
    weights: list[Matrix]
    biases: list[list[float]]
    grad_norms: list[float]
    maps: int | None
    a: list[list[float]]
    outputs: Matrix | None


class OutputsEvent(Event):
    type: Literal["outputs"]
    step: int
    y: Matrix


class LayerCheck(BaseModel):
    layer: int
    grad_w: Matrix
    numeric_w: Matrix
    rel_error_w: Matrix
    grad_b: list[float]
    numeric_b: list[float]
    rel_error_b: list[float]


class GradcheckEvent(Event):
    type: Literal["gradcheck"]
    step: int
    epsilon: float
    max_rel_error: float
    layers: list[LayerCheck]


class SliceEvent(Event):
    type: Literal["slice"]
    step: int
    layer: int
    to: int
    from_: int = Field(alias="from")
    w: float
    cost: float
    grad: float
    ws: list[float]
    costs: list[float]


class BranchWeight(BaseModel):
    layer: int
    to: int
    from_: int = Field(alias="from")
    a: float
    b: float
    diff: float


class BranchMap(BaseModel):
    unit: int
    res: int
    lo: float
    hi: float
    data: str  # base64 of res*res bytes, rows from the top


class BranchEvent(Event):
    type: Literal["branch"]
    full: bool  # false: `curve` holds only the rows since the last `branch` event
    from_step: int
    change: dict[str, Any]
    tolerance: float
    step: int
    paused_reason: str | None
    curve: list[list[float | None]]  # [step, loss_a, loss_b, distance]
    first_difference: int | None
    widest: int | None
    weight: BranchWeight | None
    weights: list[Matrix]
    biases: list[list[float]]
    maps: list[BranchMap] | None


class BranchClosedEvent(Event):
    type: Literal["branch_closed"]
    kept: Literal["a", "b"]
    reason: str


class Histogram(BaseModel):
    lo: float
    hi: float
    counts: list[int]


class LayerHealth(BaseModel):
    layer: int
    weights: Histogram
    grads: Histogram
    activations: Histogram
    dead: int
    saturated: int
    update_ratio: float


class HealthEvent(Event):
    type: Literal["health"]
    step: int
    layers: list[LayerHealth]


class GraphNode(BaseModel):
    id: str
    op: str
    value: float
    grad: float
    layer: int
    unit: int | None
    label: str


class GraphEdge(BaseModel):
    from_: str = Field(alias="from")
    to: str
    local: float  # d(to)/d(from)


class GraphEvent(Event):
    type: Literal["graph"]
    step: int
    example: int
    layer: int | None
    unit: int | None
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class ProgressEvent(Event):
    type: Literal["progress"]
    request: str
    done: int
    total: int


class RoomEvent(Event):
    type: Literal["room"]
    code: str
    viewers: int
    presenter: bool


class QuestionEvent(Event):
    type: Literal["question"]
    question: str
    kind: Literal["number", "sign", "choice", "text"]
    prompt: str
    choices: list[str]
    lesson: str
    scene: int
    tolerance: float | None = None  # a number question: how close counts as right


class PollEvent(Event):
    type: Literal["poll"]
    question: str
    answers: int
    counts: dict[str, int]


class RevealEvent(Event):
    type: Literal["reveal"]
    question: str
    value: float | str
    counts: dict[str, int]
    answers: int
    step: int  # the step the value is of, as `deltaflow trace` numbers it
    explanation: str


class PongEvent(Event):
    type: Literal["pong"]


class ErrorEvent(Event):
    type: Literal["error"]
    code: str
    message: str
    request: str | None
    count: Annotated[int, Field(ge=2)] | None = None  # present when it stands for several rejected messages


AnyEvent = Annotated[
    StateEvent
    | DatasetEvent
    | BatchEvent
    | ForwardEvent
    | OutputErrorEvent
    | BackwardEvent
    | UpdateEvent
    | EpochEvent
    | FrameEvent
    | GradcheckEvent
    | SliceEvent
    | BranchEvent
    | BranchClosedEvent
    | HealthEvent
    | GraphEvent
    | ProgressEvent
    | RoomEvent
    | QuestionEvent
    | PollEvent
    | RevealEvent
    | PongEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
EVENTS: TypeAdapter[Any] = TypeAdapter(AnyEvent)
EVENT_TYPES = sorted(EVENTS.json_schema()["discriminator"]["mapping"])
