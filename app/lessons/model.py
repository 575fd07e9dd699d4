"""The lesson document: a pydantic model that every lesson file, shipped or a teacher's, must pass.

A lesson is a sequence of scenes. Each scene sets up a live run (a preset and a patch, or a
whole scenario; steps to run; a phase to stop at), narrates it in Markdown and may ask a
question whose answer the engine computes at reveal time (app/lessons/questions.py).
"""

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CONCEPTS = (
    "two-phase-cycle",
    "forward-pass",
    "output-error",
    "backward-errors",
    "weight-gradient",
    "optimizer",
    "batch-cost",
    "feature-detectors",
    "supervised-and-autoencoders",
    "delta-rule",
    "chain-rule",
    "vectorized-gradient",
    "cost-sensitivity",
    "reverse-mode-ad",
)
Concept = Literal[CONCEPTS]  # type: ignore[valid-type]
LESSON_LIMITS = {
    "max_scenes": 30,
    "max_steps": 10_000,
    "max_narration": 8000,
    "max_choices": 8,
    "max_highlights": 12,
}
VIEWS = ("explain", "net", "heatmap", "chart", "examples", "gradnorm", "log", "controls")
# a highlight names a page element: its data- attribute and value, or a view
HIGHLIGHT = re.compile(r"^(neuron:\d+:\d+|bias:\d+:\d+|weight:\d+:\d+:\d+|view:(" + "|".join(VIEWS) + "))$")
Quantity = Literal["z", "a", "E", "loss", "delta", "grad_w", "grad_b", "w", "new_w", "new_b", "dw", "db", "cost"]
# what each quantity is indexed by: a unit of a layer, a weight (unit <- from), or nothing
PER_UNIT = {"z", "a", "delta", "grad_b", "new_b", "db"}
PER_WEIGHT = {"grad_w", "w", "new_w", "dw"}
PER_EXAMPLE = {"z", "a", "E", "delta"}
Phase = Literal["batch", "forward", "output_error", "backward", "update"]
Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
Text = Annotated[str, Field(min_length=1, max_length=300)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


class Target(Strict):
    """One number of the step at the cursor, as `deltaflow trace` writes it for that step.

    quantity: z, a, delta (per unit and example), E (one example's loss), loss (the batch's
    mean), grad_w, grad_b, dw, db (the step's slope and change), w (before the step), new_w,
    new_b (after it), cost (the batch cost before the step).
    """

    quantity: Quantity
    layer: Annotated[int, Field(ge=1, le=10)] = 1
    unit: Annotated[int, Field(ge=0, lt=64)] = 0
    from_: Annotated[int, Field(ge=0, lt=64, alias="from")] = 0
    example: Annotated[int, Field(ge=0, lt=10_000)] = 0
    label: Annotated[str, Field(max_length=60)] = ""  # how a choice among targets names it


class Number(Strict):
    """A number, right within `tolerance` (absolute) of the engine's value."""

    kind: Literal["number"]
    prompt: Text
    target: Target
    tolerance: Annotated[float, Field(gt=0, le=1e6)] = 0.001
    explanation: Annotated[str, Field(max_length=2000)] = ""


class Sign(Strict):
    """Will the target be positive ("up") or negative ("down")? Zero is "neither"."""

    kind: Literal["sign"]
    prompt: Text
    target: Target
    explanation: Annotated[str, Field(max_length=2000)] = ""


class Choice(Strict):
    """Which of these targets is largest (by absolute value with `by = "abs"`)? Answered by label."""

    kind: Literal["choice"]
    prompt: Text
    options: Annotated[list[Target], Field(min_length=2, max_length=LESSON_LIMITS["max_choices"])]
    by: Literal["abs", "value"] = "abs"
    explanation: Annotated[str, Field(max_length=2000)] = ""

    @model_validator(mode="after")
    def _labels(self) -> "Choice":
        labels = [o.label for o in self.options]
        if any(not label for label in labels):
            raise ValueError("options: every option needs a label")
        if len(set(labels)) != len(labels):
            raise ValueError("options: labels must differ")
        return self


class Conceptual(Strict):
    """A conceptual question: `answer` is one of `choices`, with an explanation."""

    kind: Literal["text"]
    prompt: Text
    choices: Annotated[list[Text], Field(min_length=2, max_length=LESSON_LIMITS["max_choices"])]
    answer: Text
    explanation: Annotated[str, Field(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def _answer(self) -> "Conceptual":
        if self.answer not in self.choices:
            raise ValueError(f"answer: {self.answer!r} is not one of the choices")
        return self


Question = Annotated[Number | Sign | Choice | Conceptual, Field(discriminator="kind")]


class PhaseStop(Strict):
    event: Phase
    layer: Annotated[int, Field(ge=1, le=10)] | None = None


class Scene(Strict):
    """A run set up, narrated, and perhaps a question about it."""

    title: Annotated[str, Field(max_length=120)] = ""
    preset: Annotated[str, Field(max_length=100)] | None = None
    patch: dict[str, Any] = Field(default_factory=dict)  # merged into the preset, key by key
    scenario: dict[str, Any] | None = None
    steps: Annotated[int, Field(ge=0, le=LESSON_LIMITS["max_steps"])] = 0
    phase: PhaseStop | None = None  # stop inside the next step, at this phase; None: between steps
    narration: Annotated[str, Field(min_length=1, max_length=LESSON_LIMITS["max_narration"])]
    highlight: Annotated[list[str], Field(max_length=LESSON_LIMITS["max_highlights"])] = Field(default_factory=list)
    question: Question | None = None
    worksheet: bool = False  # link to the printable worksheet of this scene's run

    @model_validator(mode="after")
    def _source(self) -> "Scene":
        if (self.preset is None) == (self.scenario is None):
            raise ValueError("give exactly one of preset (with an optional patch) and scenario")
        if self.patch and self.preset is None:
            raise ValueError("patch: applies to a preset only")
        for k, h in enumerate(self.highlight):
            if not HIGHLIGHT.match(h):
                raise ValueError(
                    f"highlight[{k}]: {h!r} names nothing; use neuron:L:J, bias:L:J, weight:L:J:I or "
                    f"view:NAME with NAME one of {', '.join(VIEWS)}"
                )
        if self.worksheet and self.preset is None:
            raise ValueError("worksheet: only a preset scene links to a worksheet")
        return self


class Lesson(Strict):
    """One lesson: what the picker lists, and its scenes."""

    id: Id
    title: Annotated[str, Field(min_length=1, max_length=120)]
    summary: Annotated[str, Field(min_length=1, max_length=600)]
    minutes: Annotated[int, Field(ge=1, le=240)]
    concepts: Annotated[list[Concept], Field(min_length=1)]
    scenes: Annotated[list[Scene], Field(min_length=1, max_length=LESSON_LIMITS["max_scenes"])]


def schema() -> dict[str, Any]:
    """The JSON Schema of a lesson document (served at /api/lessons/schema.json)."""
    return Lesson.model_json_schema(by_alias=True)
