"""Breakpoints: conditions on the run that pause it at the exact step they first hold.

Every kind but `step` is a statistic of the whole training set, computed at the end of an
epoch: the loss and accuracy (as the `epoch` event has them), ‖∂C/∂W‖ per layer over the
set, and which units are dead or saturated. The statistics cost about one full-batch forward
and backward pass, so they are computed at the end of every `stride` epochs: the fewest that
keep their cost under SHARE of the training time (docs/debugging.md). They depend only on
the steps taken, so a run stops at the same step whether it trains, steps or animates.

A statistic's breakpoint fires when its condition holds at a check and did not at the
previous one, so playing on after a hit does not stop again at once. `step` fires when the
run completes step N; `nonfinite` is the divergence guard's (app/nn/guard.py), always on.
"""

import math
import re
from typing import Any

import numpy as np

from app.nn import guard, health
from app.nn.trainer import accuracy
from app.session.work import forward_flops

Reason = dict[str, Any]
SHARE = 0.02  # the statistics may cost at most about this fraction of the training time
# a cost model of this class of machine, in microseconds: numpy's fixed cost per weight layer
# (a step makes about 6 calls a layer, the statistics about 15), per element of the
# activations (rows x units, about 6 passes in a step, 10 in the statistics), per multiply-add
STEP_US_PER_LAYER, CHECK_US_PER_LAYER = 9.0, 40.0
US_PER_ELEMENT = 0.004
US_PER_FLOP = 0.0005
STAT_KINDS = ("loss_increase", "vanishing", "exploding", "dead_units", "saturated", "accuracy")


def reason(
    kind: str, message: str, step: int | None = None, layer: int | None = None, unit: int | None = None
) -> Reason:
    """A `paused_reason`: why the run paused, where, and the sentence a user reads."""
    return {"kind": kind, "step": step, "layer": layer, "unit": unit, "message": message}


def stride(t: Any) -> int:
    """Epochs between checks: the fewest whose estimated cost keeps the statistics under SHARE."""
    n = len(t.x)
    batch = min(t.batch_size, n)
    depth, layers = t.net.depth, t.net.layers
    units = sum(layers[1:])
    step_us = STEP_US_PER_LAYER * depth + US_PER_ELEMENT * 6 * batch * units
    step_us += US_PER_FLOP * 3 * forward_flops(layers, batch)
    check_us = CHECK_US_PER_LAYER * depth + US_PER_ELEMENT * 10 * n * units + US_PER_FLOP * 2 * forward_flops(layers, n)
    return max(1, math.ceil(check_us / (SHARE * math.ceil(n / batch) * step_us)))


class Breakpoints:
    """The breakpoints set on a run and what their checks remember (losses, conditions held)."""

    def __init__(self) -> None:
        self.on: list[dict[str, Any]] = []
        self.every = 1
        self.next_at = math.inf  # the next step count at which `at` has something to check
        self.losses: list[float] = []
        self.held: set[str] = set()

    def entries(self) -> list[dict[str, Any]]:
        """As `state.breakpoints` shows them: nonfinite first, always on."""
        return [{"kind": "nonfinite"}, *self.on]

    def copy(self) -> "Breakpoints":
        b = Breakpoints()
        b.on, b.every, b.next_at = list(self.on), self.every, self.next_at
        b.losses, b.held = list(self.losses), set(self.held)
        return b

    def set(self, on: list[dict[str, Any]], t: Any) -> None:
        self.on = [e for e in on if e["kind"] != "nonfinite"]
        self.reset(t)

    def reset(self, t: Any) -> None:
        """Forget what earlier checks saw (after a seek, an edit or new breakpoints)."""
        self.losses, self.held = [], set()
        if any(e["kind"] == "loss_increase" for e in self.on):  # the loss here is the first to compare with
            with np.errstate(all="ignore"):
                self.losses = [health.loss_and_outputs(t.net, t.x, t.y, t.loss)[0]]
        self.every = stride(t)
        self.plan(t)

    def plan(self, t: Any) -> None:
        s = t.step_count
        nxt = [e["step"] for e in self.on if e["kind"] == "step" and e["step"] > s]
        if any(e["kind"] in STAT_KINDS for e in self.on):
            n, batch = len(t.x), max(1, t.batch_size)
            rest = math.ceil((n - t.offset) / batch)  # steps to the end of this epoch
            later = (-(t.epochs_done + 1)) % self.every  # whole epochs after it to a checked one
            nxt.append(s + rest + later * math.ceil(n / batch))
        self.next_at = min(nxt, default=math.inf)

    def at(self, t: Any, task: str) -> Reason | None:
        """Called when t.step_count reaches next_at: the reason to pause, or None."""
        s = t.step_count
        hit = None
        if t.offset == 0 and t.epochs_done % self.every == 0 and any(e["kind"] in STAT_KINDS for e in self.on):
            hit = self.check(t, task)
        for e in self.on:
            if hit is None and e["kind"] == "step" and e["step"] == s:
                hit = reason("step", f"Breakpoint: reached step {s}.", s)
        self.plan(t)
        return hit

    def check(self, t: Any, task: str) -> Reason | None:
        """The statistics of the training set at this epoch end, against every breakpoint set."""
        net = t.net
        with np.errstate(all="ignore"):
            loss, zs, as_ = health.loss_and_outputs(net, t.x, t.y, t.loss)
            kinds = {e["kind"] for e in self.on}
            norms = health.grad_norms(net, zs, as_, t.y, t.loss, t.reg) if kinds & {"vanishing", "exploding"} else []
        self.losses = [*self.losses[-1000:], loss]
        found: list[tuple[str, Reason]] = []
        for e in self.on:
            r = self._test(e, t, task, loss, as_, norms)
            if r is not None:
                found.append((e["kind"], r))
        fired = [r for k, r in found if k not in self.held]
        self.held = {k for k, _ in found}
        return fired[0] if fired else None

    def _test(
        self, e: dict[str, Any], t: Any, task: str, loss: float, as_: list[Any], norms: list[float]
    ) -> Reason | None:
        s, net, kind = t.step_count, t.net, e["kind"]
        if kind == "loss_increase":
            k, ls = e["k"], self.losses
            if len(ls) > k and all(ls[-i] > ls[-i - 1] for i in range(1, k + 1)):
                checks = f"{k} checks in a row" if k > 1 else "the last check"
                return reason(kind, f"Breakpoint: the training loss rose at {checks}, to {loss:.4g}.", s)
        elif kind in ("vanishing", "exploding"):
            return _norms(kind, e["threshold"], norms, s)
        elif kind == "dead_units":
            for l, units in enumerate(health.dead(net, as_), start=1):
                if len(units):
                    j = int(units[0])
                    text = f"Breakpoint: unit {j} of layer {l} (ReLU) outputs 0 for every training example"
                    return reason(kind, text + f" ({len(units)} dead in that layer).", s, l, j)
        elif kind == "saturated":
            for l, units in enumerate(health.saturated(net, as_, e["epsilon"], e["fraction"]), start=1):
                if len(units):
                    j = int(units[0])
                    text = (
                        f"Breakpoint: unit {j} of layer {l} ({net.activations[l - 1]}) is within {e['epsilon']:g} "
                        f"of its bounds for at least {e['fraction']:.0%} of the training examples."
                    )
                    return reason(kind, text, s, l, j)
        elif kind == "accuracy":
            acc = accuracy(as_[-1], t.y, task, t.threshold)
            if acc is not None and acc >= e["value"]:
                return reason(kind, f"Breakpoint: training accuracy reached {acc:.1%} (≥ {e['value']:.1%}).", s)
        return None


def _norms(kind: str, threshold: float, norms: list[float], s: int) -> Reason | None:
    """A layer's ‖∂C/∂W‖ below (vanishing) or above (exploding) the threshold, or the ratio
    ||dC/dW_1|| / ||dC/dW_L|| of the first layer's to the last's."""
    below = kind == "vanishing"
    for l, g in enumerate(norms, start=1):
        if (g < threshold) if below else (g > threshold):
            word = "below" if below else "above"
            return reason(kind, f"Breakpoint: ‖∂C/∂W‖ of layer {l} is {g:.3g}, {word} {threshold:g}.", s, l)
    if len(norms) > 1 and norms[-1] > 0:
        ratio = norms[0] / norms[-1]
        if (ratio < threshold) if below else (ratio > threshold):
            text = f"Breakpoint: ‖∂C/∂W‖ of layer 1 is {ratio:.3g} times that of layer {len(norms)}"
            return reason(kind, text + f", {'below' if below else 'above'} {threshold:g}.", s, 1)
    return None


class Paused(Exception):
    """The run must pause: `reason` is the session's paused_reason (app/session/breakpoints.py)."""

    def __init__(self, why: Reason) -> None:
        super().__init__(why["message"])
        self.reason = why


class Diverged(Paused):
    """A step would leave the finite numbers (app/nn/guard.py)."""


def diverged(e: guard.Diverged, learning_rate: float) -> Diverged:
    """The guard's finding as a paused_reason of kind nonfinite, with the layer and unit it names."""
    where = re.search(r"[wb]\[(\d+)\]\[(\d+)\]", e.what)
    layer, unit = (int(where[1]), int(where[2])) if where else (None, None)
    return Diverged(reason("nonfinite", e.reason(learning_rate), e.step, layer, unit))
