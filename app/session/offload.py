"""A run's costly work, awaited off the event loop when it is large.

The loop answers every connection, so no command may hold it for more than a millisecond or
two. A step of 2-64-64-1 over 10,000 examples is ~40 ms, and so is the guard's check after a
stretch of steps, an evaluation of the whole set after an edit, or each step a seek replays.
Each is done here inline when small (a thread hop costs as much as a small net's step),
in a worker thread when large (work.run), and a large traced step or training slice in the
replica process.
"""

import time

import numpy as np

from app.nn import guard
from app.session import replica, work
from app.session.breakpoints import Paused, diverged
from app.session.cursor import Cursor, Event
from app.session.history import Snapshot
from app.session.outbox import Sent


async def begin(c: Cursor) -> list[Event]:
    """c.begin(), off the event loop when large: from replica.REMOTE_FLOPS in the replica
    process, whose events come back encoded (Sent), else in a thread (work.run)."""
    flops, t = c.step_flops(), c.trainer
    if flops < replica.REMOTE_FLOPS:
        return await work.run(c.begin, flops=flops)
    data = [a for a in (t.x, t.y, t.x_test, t.y_test) if a is not None]
    try:
        events, json, state = await replica.call(replica.step, (t, True), data)
    except replica.Unavailable:
        return await work.run(c.begin, flops=flops)
    except guard.Diverged as e:  # the replica's copy diverged; this trainer never moved
        raise diverged(e, c.scenario.optimizer.learning_rate) from None
    c.branch()
    c.pre, c.pending_batch = c.snapshot(), c.batch()
    t.restore(state)
    t.last_grad_w, t.last_changes = state["last_grad_w"], state["last_changes"]
    return [Sent(e, j) for e, j in zip(events, json)]


async def traced_step(c: Cursor) -> list[Event]:
    """c.traced_step(), off the event loop when large (begin)."""
    if c.step_flops() < replica.REMOTE_FLOPS:
        return await work.run(c.traced_step, flops=c.step_flops())
    events = await begin(c)
    c.complete(events)
    await work.in_thread(c.params_json)
    return events


def _train_for(c: Cursor, seconds: float, most: int | None) -> None:
    with np.errstate(all="ignore"):  # a diverging step overflows; the guard reports it
        c.train_for(seconds, time.perf_counter, check=True, max_steps=most)


async def train_for(c: Cursor, seconds: float, most: int | None) -> None:
    """c.train_for(seconds, check=True, max_steps=most), off the loop: from
    replica.REMOTE_FLOPS a step in the replica process, which takes the steps and the guard's
    check and sends back the checkpoints and the state; else in a worker thread. Paused, or
    Diverged with the run at the step before the first bad one, as train_for raises them."""
    t, history, bp = c.trainer, c.history, c.breakpoints
    if c.step_flops() < replica.REMOTE_FLOPS:
        return await work.in_thread(_train_for, c, seconds, most)
    data = [a for a in (t.x, t.y, t.x_test, t.y_test) if a is not None]
    try:
        kept, state, bad = await replica.call(replica.train, (t, seconds, history.every, bp.next_at, most), data)
    except replica.Unavailable:
        return await work.in_thread(_train_for, c, seconds, most)
    c.branch()
    extra = {"config": c.config(), "data": c.data}
    for snap in kept:
        if bad is None or snap["step"] < bad.step:
            history.save({**snap, **extra})
    t.restore(state)
    t.last_grad_w, t.last_changes = state["last_grad_w"], state["last_changes"]
    history.reached(t.step_count)
    if bad is not None:  # as Cursor.check: the future after the step before is dropped
        c.branch(always=True)
        c.good = None
        await work.run(bp.reset, t, flops=evaluation_flops(c))
        raise diverged(bad, c.scenario.optimizer.learning_rate)
    c.good, c.checked_at = t.snapshot(), time.perf_counter()
    if t.step_count >= bp.next_at:
        hit = await work.run(bp.at, t, c.task, flops=evaluation_flops(c))
        if hit is not None:
            raise Paused(hit)


async def check(c: Cursor, good: Snapshot) -> Snapshot:
    """c.check(good): the guard after unchecked steps, about one step's work (more to replay
    a divergence, which ends the command)."""
    return await work.run(c.check, good, flops=c.step_flops())


async def goto(c: Cursor, step: int) -> None:
    """c.goto(step): a checkpoint and the steps after it again."""
    replayed = step - c.history.base(step)["step"]
    await work.run(c.goto, step, flops=replayed * c.step_flops())


def _edited(c: Cursor) -> None:
    c.edited()
    c.params_json()  # the state that follows, encoded here when large


async def edited(c: Cursor) -> None:
    """c.edited(): the losses of the whole set at the edited weights, and a checkpoint."""
    await work.run(_edited, c, flops=evaluation_flops(c))


def evaluation_flops(c: Cursor) -> int:
    """What evaluating the training and test sets costs: a forward pass over each."""
    t = c.trainer
    rows = len(t.x) + (0 if t.x_test is None else len(t.x_test))
    return work.forward_flops(t.net.layers, rows)
