"""Answers computed from a live run: the value a question's target has in the step at the cursor.

Every value is read off the events of that step exactly as the trainer traces it (the events
`deltaflow trace` writes), so a question's answer and the trace always agree. The trainer
given is a copy: stepping it changes nothing live.
"""

import math
from typing import Any

import numpy as np

from app.lessons.model import PER_EXAMPLE, PER_UNIT, PER_WEIGHT, Choice, Conceptual, Number, Sign, Target

Event = dict[str, Any]
MAX_BINS = 12  # a number poll's histogram has at most this many bars


class QuestionError(ValueError):
    """A target that names nothing in this run (a layer, unit or example out of range)."""


class StepValues:
    """The traced events of one step, and the parameters and batch cost before it."""

    def __init__(self, trainer: Any) -> None:
        x, y, _ = trainer.next_batch()
        self.depth = trainer.net.depth
        self.layers = list(trainer.net.layers)
        self.w_before = [w.copy() for w in trainer.net.w]
        with np.errstate(all="ignore"):
            self.cost = trainer.cost(x, y)
            self.events = trainer.step(trace=True)
        self.step = self.events[0]["step"]
        self.rows = len(x)

    def event(self, kind: str, layer: int | None = None) -> Event:
        for e in self.events:
            if e["type"] == kind and (layer is None or e["layer"] == layer):
                return e
        raise QuestionError(f"the step has no {kind} event")  # never: every step traces all

    def value(self, t: Target) -> float:
        """The number `t` names in this step (see Target); QuestionError if it names nothing."""
        check_target(t, self.layers, self.rows)
        q = t.quantity
        l, j, i, n = t.layer, t.unit, t.from_, t.example
        if q in ("z", "a"):
            return float(self.event("forward", l)[q][n][j])
        if q == "E":
            return float(self.event("output_error")["losses"][n])
        if q == "loss":
            return float(self.event("output_error")["loss"])
        if q == "cost":
            return float(self.cost)
        if q == "delta":
            return float(self.event("backward", l)["delta"][n][j])
        if q == "grad_w":
            return float(self.event("backward", l)["grad_w"][j][i])
        if q == "grad_b":
            return float(self.event("backward", l)["grad_b"][j])
        if q == "w":
            return float(self.w_before[l - 1][j][i])
        update = self.event("update", l)
        key = {"new_w": "weights", "new_b": "biases", "dw": "dw", "db": "db"}[q]
        row = update[key][j]
        return float(row[i] if q in PER_WEIGHT else row)


def check_target(t: Target, layers: list[int], rows: int) -> None:
    """QuestionError unless `t` names a number of a network of `layers` on a batch of `rows`."""
    q, depth = t.quantity, len(layers) - 1
    if q in PER_UNIT | PER_WEIGHT and not 1 <= t.layer <= depth:
        raise QuestionError(f"target.layer: the network has {depth} weight layers (1–{depth})")
    n_out = layers[t.layer] if t.layer <= depth else 0
    if q in PER_UNIT | PER_WEIGHT and t.unit >= n_out:
        raise QuestionError(f"target.unit: layer {t.layer} has {n_out} units (0–{n_out - 1})")
    if q in PER_WEIGHT and t.from_ >= layers[t.layer - 1]:
        n_in = layers[t.layer - 1]
        raise QuestionError(f"target.from: layer {t.layer - 1} has {n_in} units (0–{n_in - 1})")
    if q in PER_EXAMPLE and t.example >= rows:
        raise QuestionError(f"target.example: the batch has {rows} examples (0–{rows - 1})")


def check(question: Any, layers: list[int], rows: int) -> None:
    """QuestionError unless every target of `question` can be answered (without running the step)."""
    targets = [question.target] if hasattr(question, "target") else getattr(question, "options", [])
    for t in targets:
        check_target(t, layers, rows)


def sign_of(v: float) -> str:
    return "up" if v > 0 else "down" if v < 0 else "neither"


def truth(question: Any, trainer: Any) -> Any:
    """The engine's answer to `question` for the step at `trainer` (a copy: it is stepped).

    A number for `number`, "up"/"down"/"neither" for `sign`, the largest option's label for
    `choice`, the written answer for `text`. QuestionError if a target names nothing here.
    """
    if isinstance(question, Conceptual):
        return question.answer
    values = StepValues(trainer)
    if isinstance(question, Number):
        return values.value(question.target)
    if isinstance(question, Sign):
        return sign_of(values.value(question.target))
    assert isinstance(question, Choice)
    got = [values.value(o) for o in question.options]
    keyed = [abs(v) for v in got] if question.by == "abs" else got
    return question.options[int(np.argmax(keyed))].label


def choices(question: Any) -> list[str]:
    """What the page offers: the labels of a choice, the signs, the written choices; [] for a number."""
    if isinstance(question, Number):
        return []
    if isinstance(question, Sign):
        return ["up", "down", "neither"]
    if isinstance(question, Choice):
        return [o.label for o in question.options]
    return list(question.choices)


def right(question: Any, truth_value: Any, answer: Any) -> bool:
    """Whether `answer` is right: a number within the tolerance, otherwise the same choice."""
    if isinstance(question, Number):
        return isinstance(answer, int | float) and abs(float(answer) - float(truth_value)) <= question.tolerance
    return answer == truth_value


def check_answer(question: Any, value: Any) -> str | None:
    """Why `value` cannot answer `question` (None if it can): a finite number, or one of the choices."""
    if isinstance(question, Number):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return "answer.value: this question takes a finite number"
        return None
    if value not in choices(question):
        return f"answer.value: choose one of {', '.join(map(repr, choices(question)))}"
    return None


def counts(question: Any, answers: list[Any]) -> dict[str, int]:
    """The class's answers summed up: per choice, or for a number a histogram of at most MAX_BINS
    bars at least two tolerances wide, each keyed by its lower edge."""
    if not isinstance(question, Number):
        out = {c: 0 for c in choices(question)}
        for a in answers:
            out[a] = out.get(a, 0) + 1
        return out
    if not answers:
        return {}
    lo, hi = min(answers), max(answers)
    width = max(2 * question.tolerance, (hi - lo) / MAX_BINS)
    hist: dict[str, int] = {}
    for v in sorted(answers):
        k = min(MAX_BINS - 1, int((v - lo) // width))
        key = f"{lo + k * width:.6g}"
        hist[key] = hist.get(key, 0) + 1
    return hist
