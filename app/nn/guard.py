"""The one divergence guard: which step first leaves the finite numbers, and the way back.

State k is the run after step k (state 0: before any step). It is good when every weight,
bias and optimizer array is finite, and the cost and gradients of the next batch, at those
parameters, are finite too. The first bad step is the first s whose state is not good; the
run goes back to state s - 1, which is good, so the loss it shows next is finite.

Every way of training uses the same two calls:

- `step(t, trace)`: one step, checked at once (the CLI, and a session's `next`).
- `check(t, good)`: after any number of unchecked `t.step()` calls from the good state
  `good` (a `t.snapshot()`), one check; only when it fails is the stretch replayed step by
  step from `good`, to find the exact first bad step. Untraced training pays one check per
  stretch, not one per step.
"""

from typing import TYPE_CHECKING, Any

import numpy as np

from app.nn.losses import LOSSES

if TYPE_CHECKING:
    from app.nn.trainer import Trainer

Array = np.ndarray
Snapshot = dict[str, Any]


class Diverged(Exception):
    """Step `step` makes `what` non-finite (`kind`: "NaN" or "infinite").

    `what` is "the loss", "the gradient of w[l][j][i]" (or of b[l][j]), "weight w[l][j][i]",
    "bias b[l][j]" or "the optimizer state"; l counts weight layers from 1, j and i units
    from 0, as in weights[l-1][j][i]. The trainer has been put back to state `step - 1`;
    with `already`, the state it started from, `step`, was not good itself and stays as it is.
    """

    def __init__(self, step: int, what: str, kind: str, already: bool = False) -> None:
        self.step, self.what, self.kind, self.already = step, what, kind, already
        super().__init__(self.reason())

    def __reduce__(self) -> tuple[type, tuple[int, str, str, bool]]:
        return Diverged, (self.step, self.what, self.kind, self.already)  # raised again across processes

    def reason(self, learning_rate: float | None = None) -> str:
        """The sentence a user reads, e.g. as a session's `paused_reason`."""
        if self.already:
            return f"Training cannot go on: at step {self.step} {self.what} is already {self.kind}."
        text = (
            f"Training diverged at step {self.step}: it makes {self.what} {self.kind}. "
            f"Paused at step {self.step - 1}, the last step whose loss, gradients and weights are finite."
        )
        if learning_rate is not None:
            text += f" Try a learning rate below {learning_rate:g}."
        return text


def _kind(x: Array) -> str:
    return "NaN" if np.isnan(x).any() else "infinite"


def _entry(x: Array) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])


def _name(k: int, index: tuple[int, ...]) -> str:
    """Parameter k of [W1, b1, W2, b2, ...] at `index`, as w[l][j][i] or b[l][j]."""
    return f"{'wb'[k % 2]}[{k // 2 + 1}]" + "".join(f"[{i}]" for i in index)


def fault(t: "Trainer") -> tuple[str, str] | None:
    """(what, kind) for the first non-finite part of the trainer's state, or None when it is good.

    Checked in this order: the weights and biases, the optimizer state, then the next batch's
    cost (mean loss plus penalty) and its gradients, penalty included. Changes nothing.
    """
    params = t.net.params
    for k, p in enumerate(params):
        if not np.isfinite(p).all():
            return ("weight " if k % 2 == 0 else "bias ") + _name(k, _entry(p)), _kind(p)
    if not t.optimizer.finite():
        return "the optimizer state", "NaN or infinite"
    x, y, _ = t.next_batch()
    with np.errstate(all="ignore"):
        zs, as_, _, grad_w, grad_b = t.gradients(x, y)
        cost = np.array(LOSSES[t.loss].e(zs[-1], as_[-1], y).mean() + t.reg.penalty(t.net.w))
    if not np.isfinite(cost):
        return "the loss", _kind(cost)
    for k, g in enumerate(g for pair in zip(grad_w, grad_b) for g in pair):
        if not np.isfinite(g).all():
            return "the gradient of " + _name(k, _entry(g)), _kind(g)
    return None


def step(t: "Trainer", trace: bool = True) -> list[dict[str, Any]]:
    """One step, then the check of the state it makes: its events (traced), or Diverged.

    On Diverged the step is undone: the trainer is back at the state before it.
    """
    before = t.snapshot()
    with np.errstate(all="ignore"):  # a diverging step overflows; the check reports it, not numpy
        events = t.step(trace=trace)
    bad = fault(t)
    if bad is not None:
        t.restore(before)
        raise Diverged(before["step"] + 1, *bad)
    return events


def check(t: "Trainer", good: Snapshot) -> Snapshot:
    """After unchecked steps from the good state `good`: a snapshot of the current state if it is good.

    Otherwise the steps since `good` are replayed one by one, each checked, the trainer is left
    at the state before the first bad step s, and Diverged(s) is raised. The replay is
    deterministic (the same batches, the same arithmetic), so s is exact.
    """
    if fault(t) is None:
        return t.snapshot()
    end = t.step_count
    t.restore(good)
    bad = fault(t)
    if bad is not None:  # `good` was not: nothing earlier to go back to
        raise Diverged(good["step"], *bad, already=True)
    while t.step_count < end:
        step(t, trace=False)
    raise AssertionError("a replayed run differed from the run it replays")
