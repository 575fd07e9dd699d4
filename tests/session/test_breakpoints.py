"""Breakpoints stop a run at the first checked epoch end where their condition holds, found by
an independent reference that steps one at a time and tests every condition with plain numpy;
every way of training (train slices, step, epoch) stops at that same step."""

import asyncio
import math
from typing import Any

import numpy as np
import pytest

from app import scenario as sc
from app.nn.losses import LOSSES
from app.session.breakpoints import Breakpoints, Paused, stride
from app.session.cursor import Cursor, Options
from tests import engine_helpers as h
from tests.nn import diverging

CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "dead_units": (sc.preset("dead-relu"), {"kind": "dead_units"}),
    "vanishing": (sc.preset("vanishing-sigmoid"), {"kind": "vanishing", "threshold": 1e-5}),
    "exploding": (sc.preset("lr-too-high"), {"kind": "exploding", "threshold": 100.0}),
    "loss_increase": (sc.preset("lr-too-high"), {"kind": "loss_increase", "k": 1}),
    "saturated": (
        h.doc(optimizer={"type": "sgd", "learning_rate": 50.0}),
        {"kind": "saturated", "epsilon": 0.01, "fraction": 0.5},
    ),
    "accuracy": (
        h.doc(optimizer={"type": "sgd", "learning_rate": 2.0}, batch_size=1),
        {"kind": "accuracy", "value": 1.0},
    ),
    "step": (sc.preset("circle"), {"kind": "step", "step": 37}),
}


def condition(t: Any, e: dict[str, Any], losses: list[float]) -> bool:
    """The breakpoint's condition on the whole training set, written out plainly."""
    a = t.x
    acts = []
    for w, b, name in zip(t.net.w, t.net.b, t.net.activations):
        z = a @ w.T + b
        a = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "linear": lambda z: z}.get(
            name, lambda z: 1 / (1 + np.exp(-z))
        )(z)
        acts.append((name, a))
    kind = e["kind"]
    if kind == "dead_units":
        return any(name == "relu" and bool((a == 0).all(axis=0).any()) for name, a in acts)
    if kind == "saturated":
        for name, a in acts:
            lo, hi = {"tanh": (-1, 1), "sigmoid": (0, 1)}.get(name, (None, None))
            if (
                lo is not None
                and (((a - lo <= e["epsilon"]) | (hi - a <= e["epsilon"])).mean(axis=0) >= e["fraction"]).any()
            ):
                return True
        return False
    if kind == "accuracy":
        return float(((a >= 0.5) == (t.y >= 0.5)).all(axis=1).mean()) >= e["value"]
    if kind == "loss_increase":
        k = e["k"]
        return len(losses) > k and all(losses[-i] > losses[-i - 1] for i in range(1, k + 1))
    norms = [float(np.linalg.norm(g)) for g in t.gradients(t.x, t.y)[3]]
    ratio = norms[0] / norms[-1]
    if kind == "vanishing":
        return min(norms) < e["threshold"] or ratio < e["threshold"]
    return max(norms) > e["threshold"] or ratio > e["threshold"]


def reference(doc: dict[str, Any], e: dict[str, Any], limit: int = 5000) -> int:
    """The step a breakpoint stops at: stepping one at a time, testing at every stride-th epoch end."""
    t = sc.build(sc.parse(doc)).trainer
    every = stride(t)
    losses: list[float] = []
    with np.errstate(all="ignore"):
        zs, as_ = t.net.forward(t.x)
        losses.append(float(LOSSES[t.loss].e(zs[-1], as_[-1], t.y).mean()))  # where the breakpoint was set
        while t.step_count < limit:
            t.step()
            if e["kind"] == "step":
                if t.step_count == e["step"]:
                    return t.step_count
                continue
            if t.offset == 0 and t.epochs_done % every == 0:
                zs, as_ = t.net.forward(t.x)
                losses.append(float(LOSSES[t.loss].e(zs[-1], as_[-1], t.y).mean()))
                if condition(t, e, losses):
                    return t.step_count
    raise AssertionError("the reference found no hit")


def test_the_stride_keeps_the_estimated_cost_of_the_checks_small() -> None:
    t = sc.build(sc.parse(sc.preset("circle"))).trainer
    e = stride(t)
    big = sc.build(sc.parse({**sc.preset("circle"), "batch_size": 250})).trainer
    assert 1 < e < stride(big)  # a whole-set batch is one step an epoch: checked more rarely
    t1 = sc.build(sc.parse({**sc.preset("circle"), "batch_size": 1})).trainer
    assert stride(t1) < e  # an epoch of 250 small steps pays for a check sooner


@pytest.mark.parametrize("case", list(CASES))
def test_training_stops_where_the_reference_does(case: str) -> None:
    doc, e = CASES[case]
    want = reference(doc, e)
    c = Cursor(sc.parse(doc), Options())
    c.breakpoints.set([e], c.trainer)
    clock = iter(range(10**9))
    with np.errstate(all="ignore"), pytest.raises(Paused) as hit:
        for _ in range(10_000):
            c.train_for(50, lambda: next(clock) * 1e-3)  # 50 steps a slice on this clock
    r = hit.value.reason
    assert r["kind"] == e["kind"] and r["step"] == want == c.trainer.step_count, r
    assert r["message"].startswith("Breakpoint")


@pytest.mark.parametrize("case", ["dead_units", "exploding", "step"])
def test_fast_steps_stop_at_the_same_step(case: str) -> None:
    doc, e = CASES[case]
    want = reference(doc, e)
    c = Cursor(sc.parse(doc), Options())
    c.breakpoints.set([e], c.trainer)
    with np.errstate(all="ignore"):
        while c.hit is None and c.trainer.step_count < 5000:
            c.fast_step()
    assert c.trainer.step_count == want
    hit = c.take_hit()
    assert hit is not None and hit["kind"] == e["kind"] and c.hit is None


def test_a_condition_that_goes_on_holding_does_not_stop_the_run_again() -> None:
    doc, e = CASES["dead_units"]
    c = Cursor(sc.parse(doc), Options())
    c.breakpoints.set([e], c.trainer)
    with np.errstate(all="ignore"):
        while c.hit is None:
            c.fast_step()
        first = c.trainer.step_count
        c.take_hit()
        for _ in range(3 * first):
            c.fast_step()
    assert c.hit is None


def test_a_seek_forgets_what_earlier_checks_saw() -> None:
    doc, e = CASES["dead_units"]
    c = Cursor(sc.parse(doc), Options())
    c.breakpoints.set([e], c.trainer)
    with np.errstate(all="ignore"):
        while c.hit is None:
            c.fast_step()
        first = c.trainer.step_count
        c.take_hit()
        c.goto(0)
        while c.hit is None:
            c.fast_step()
    assert c.trainer.step_count == first


def test_a_divergence_before_a_breakpoint_is_the_reason() -> None:
    c = Cursor(sc.parse(diverging.minimal()), Options())
    on = [{"kind": "step", "step": diverging.FIRST_BAD + 30}, {"kind": "exploding", "threshold": 1e300}]
    c.breakpoints.set(on, c.trainer)
    clock = iter(range(10**9))
    with np.errstate(all="ignore"), pytest.raises(Paused) as hit:
        for _ in range(100):
            c.train_for(100, lambda: next(clock) * 1e-3)
    assert hit.value.reason["kind"] == "nonfinite" and hit.value.reason["step"] == diverging.FIRST_BAD


def test_breakpoints_copy_with_a_fork_and_list_nonfinite_first() -> None:
    c = Cursor(sc.parse(sc.preset("circle")), Options())
    c.breakpoints.set([{"kind": "nonfinite"}, {"kind": "step", "step": 5}], c.trainer)
    assert c.breakpoints.entries() == [{"kind": "nonfinite"}, {"kind": "step", "step": 5}]
    f = c.fork()
    f.breakpoints.set([], f.trainer)
    assert c.breakpoints.next_at == 5 and f.breakpoints.next_at == math.inf


def test_the_plan_lands_on_epoch_ends_that_are_checked() -> None:
    t = sc.build(sc.parse(sc.preset("circle"))).trainer
    b = Breakpoints()
    b.set([{"kind": "dead_units"}], t)
    steps = math.ceil(len(t.x) / t.batch_size)
    assert b.next_at == stride(t) * steps
    for _ in range(3):
        t.step()
    b.plan(t)
    assert b.next_at == stride(t) * steps


def test_the_session_pauses_with_the_reason_and_keeps_breakpoints_over_a_reset() -> None:
    from app.session.outbox import Outbox
    from app.session.scheduler import Scheduler
    from app.session.session import Session

    async def run() -> Session:
        s = Session("t", sc.preset("circle"), Options(), Scheduler())
        s.attach(Outbox())
        from app import protocol as p

        await s.handle(p.parse_command('{"type": "breakpoints", "on": [{"kind": "step", "step": 7}]}'))
        await s.handle(p.parse_command('{"type": "step", "count": 20}'))
        return s

    s = asyncio.run(run())
    assert s.paused_reason is not None and s.paused_reason["kind"] == "step" and s.cursor.trainer.step_count == 7
    assert s.state()["breakpoints"] == [{"kind": "nonfinite"}, {"kind": "step", "step": 7}]


MOVES = ['{"type": "step"}', '{"type": "next"}', '{"type": "epoch"}', '{"type": "seek", "step": 3}']


@pytest.mark.parametrize("move", MOVES)
def test_stepping_on_clears_why_it_paused_a_seek_keeps_it_and_a_new_hit_sets_it_again(move: str) -> None:
    from app import protocol as p
    from app.session.outbox import Outbox
    from app.session.scheduler import Scheduler
    from app.session.session import Session

    async def run() -> list[Any]:
        s = Session("t", sc.preset("circle"), Options(), Scheduler())
        s.attach(Outbox())
        await s.handle(p.parse_command('{"type": "breakpoints", "on": [{"kind": "step", "step": 7}]}'))
        await s.handle(p.parse_command('{"type": "step", "count": 20}'))
        seen = [s.paused_reason]
        await s.handle(p.parse_command(move))
        seen.append(s.state()["paused_reason"])
        await s.handle(p.parse_command('{"type": "breakpoints", "on": [{"kind": "step", "step": 30}]}'))
        await s.handle(p.parse_command('{"type": "step", "count": 40}'))
        return [*seen, s.paused_reason]

    hit, after, again = asyncio.run(run())
    assert hit is not None and hit["step"] == 7
    assert after == (hit if "seek" in move else None)
    assert again is not None and again["kind"] == "step" and again["step"] == 30


@pytest.mark.parametrize(
    "what, where",
    [
        ("weight w[2][1][0]", (2, 1)),
        ("bias b[1][3]", (1, 3)),
        ("the gradient of w[3][0][2]", (3, 0)),
        ("the loss", (None, None)),
        ("the optimizer state", (None, None)),
    ],
)
def test_a_divergence_names_the_layer_and_unit_of_what_went_non_finite(what: str, where: tuple[Any, Any]) -> None:
    from app.nn import guard
    from app.session.breakpoints import diverged

    r = diverged(guard.Diverged(7, what, "NaN"), 0.5).reason
    assert (r["kind"], r["step"], r["layer"], r["unit"]) == ("nonfinite", 7, *where)
    assert what in r["message"] and "below 0.5" in r["message"]
