"""A run's costly work, awaited off the event loop when it is large.

The loop answers every connection, so no command may hold it for more than a millisecond or
two. A step of 2-64-64-1 over 10,000 examples is ~40 ms, and so is the guard's check after a
stretch of steps, an evaluation of the whole set after an edit, or each step a seek replays.
Each is done here inline when small (a thread hop costs as much as a small net's step),
in a worker thread when large (work.run), and a large traced step or training slice in the
replica process.
"""

import time
from typing import Any

import numpy as np

from app import scenario as sc
from app.codec import encode_in_pieces
from app.nn import guard
from app.session import maps, replica, work
from app.session.breakpoints import Paused, diverged
from app.session.cursor import OUTPUT_ROWS, Cursor, Event, Options
from app.session.history import Snapshot
from app.session.outbox import Sent

FAST_SECONDS = 0.05  # of a long `step` or `epoch` in the replica at once, then its check


async def begin(c: Cursor) -> list[Event]:
    """c.begin(), off the event loop when large: from replica.REMOTE_FLOPS in the replica
    process, else in a thread (work.run); either way its events come back encoded (Sent), so
    that showing one is never an await (a pause meanwhile would lose it)."""
    flops, t = c.step_flops(), c.trainer
    if flops < replica.REMOTE_FLOPS:
        return c.begin() if flops < work.INLINE_FLOPS else await work.in_thread(_begun, c)
    try:
        events, json, state = await replica.call(replica.step, (t,), replica.shared(t))
    except replica.Unavailable:
        return await work.in_thread(_begun, c)
    except guard.Diverged as e:  # the replica's copy diverged; this trainer never moved
        raise diverged(e, c.scenario.optimizer.learning_rate) from None
    c.branch()
    c.pre, c.pending_batch = c.snapshot(), c.batch()
    replica.taken(t, state)
    return [Sent(e, j) for e, j in zip(events, json)]


async def built(s: sc.Scenario, options: Options) -> Cursor:
    """Cursor(s, options), off the event loop: where evaluating the data (its first epoch
    event) costs replica.REMOTE_FLOPS or more, in the replica, which is sent the data as arrays
    it keeps for the run's steps and answers with them as their tokens; else, or when it
    cannot answer, in a thread (work.run). Raises what Cursor raises."""
    data, n = s.data, rows(s)
    flops = work.forward_flops(s.layers, n)
    if flops >= replica.REMOTE_FLOPS:
        parts = () if isinstance(data, sc.GeneratedData) else (data.train, data.test)
        shared = [a for p in parts if p is not None for a in (p.x, p.y)]
        try:
            c: Cursor = await replica.call(Cursor, (s, options), shared)
            return c
        except replica.Unavailable:
            pass
    return await work.run(Cursor, s, options, flops=n * 1000)


def rows(s: sc.Scenario) -> int:
    """The examples of a scenario's data, training and test."""
    d = s.data
    return d.samples if isinstance(d, sc.GeneratedData) else len(d.train.x) + (len(d.test.x) if d.test else 0)


async def maps_message(c: Cursor) -> bytes:
    """c.maps() (every neuron's map over the plane, binary), off the event loop: in the
    replica from replica.REMOTE_FLOPS on (a forward pass over 10,000 points of 2-64-64-1 and
    129 maps quantized take ~18 ms, which a thread shares with the loop), else in a thread.
    The caller holds the session's lock, so that the network does not change meanwhile."""
    args = c.maps_args()
    if c.points is not None and c.maps_flops() >= replica.REMOTE_FLOPS:
        try:
            packed: bytes = await replica.call(maps.pack, args, [c.points])
            return packed
        except replica.Unavailable:
            pass
    return await work.in_thread(maps.pack, *args)


def measured(t: Any, x: np.ndarray, points: np.ndarray | None, seq: int | None, tabled: bool) -> dict[str, Any]:
    """What a train frame shows of trainer `t` beyond its parameters (play.frame): the loss and
    accuracy of the training and test sets (`row`), the activations of example `x` (1 × inputs)
    per layer (`a`), the outputs of the first OUTPUT_ROWS examples when `tabled`, and the maps
    over `points` numbered `seq` (binary, maps.pack; None without points), with `seq`."""
    tr_loss, tr_acc = t.evaluate(t.x, t.y)
    te_loss, te_acc = t.evaluate(t.x_test, t.y_test)
    row = {"train_loss": tr_loss, "test_loss": te_loss, "train_accuracy": tr_acc, "test_accuracy": te_acc}
    return {
        "row": row,
        "a": [a[0] for a in t.net.forward(x)[1]],
        "outputs": t.net.predict(t.x[:OUTPUT_ROWS]) if tabled else None,
        "maps": None if points is None else maps.pack(t.net, points, seq, t.step_count),  # type: ignore[arg-type]
        "seq": seq,
    }


async def measured_off_loop(args: tuple[Any, ...]) -> dict[str, Any]:
    """measured(*args) off the event loop: in the replica when it costs replica.REMOTE_FLOPS
    or more (evaluating 10,000 examples of 2-64-64-1 is ~18 ms, which a thread shares with
    the loop), else in a thread."""
    t, points = args[0], args[2]
    flops = _evaluation_flops(t) + (0 if points is None else work.forward_flops(t.net.layers, len(points)))
    if flops >= replica.REMOTE_FLOPS:
        try:
            m: dict[str, Any] = await replica.call(
                measured, args, replica.shared(t) + ([] if points is None else [points])
            )
            return m
        except replica.Unavailable:
            pass
    return await work.in_thread(measured, *args)


def _begun(c: Cursor) -> list[Event]:
    return [Sent(replica.light(e), encode_in_pieces(e)) for e in c.begin()]


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
    replica.REMOTE_FLOPS a step in the replica process (_in_replica), else in a worker
    thread. Paused, or Diverged with the run at the step before the first bad one, as
    train_for raises them."""
    if c.step_flops() >= replica.REMOTE_FLOPS:
        try:
            await _in_replica(c, seconds, most, False)
        except replica.Unavailable:
            pass
        else:
            if c.hit is not None:
                hit, c.hit = c.hit, None
                raise Paused(hit)
            return
    await work.in_thread(_train_for, c, seconds, most)


async def fast_steps(c: Cursor, most: int, good: Snapshot) -> tuple[int, Event | None, Snapshot]:
    """Untraced steps as c.fast_step() takes them: one (off the loop when large), or from
    replica.REMOTE_FLOPS as many as fit in FAST_SECONDS, at most `most`, in the replica with
    the guard's check there. How many were taken, the epoch event of the last epoch they
    ended (the curve gets each), and the good state (moved on when checked); a breakpoint's
    hit in c.hit, Diverged as c.check raises it."""
    if c.step_flops() >= replica.REMOTE_FLOPS:
        before = c.trainer.step_count
        try:
            ended = await _in_replica(c, FAST_SECONDS, most, True)
        except replica.Unavailable:
            pass
        else:
            return c.trainer.step_count - before, (ended[-1] if ended else None), c.trainer.snapshot()
    return 1, await work.run(c.fast_step, flops=c.step_flops()), good


async def _in_replica(c: Cursor, seconds: float, most: int | None, epochs: bool) -> list[Event]:
    """Steps of the run in the replica (replica.train), taken up here as the cursor takes its
    own: checkpoints, the state, the curve's epochs, a breakpoint's hit in c.hit, and
    Diverged with the future after the step before the bad one dropped."""
    t, history, bp = c.trainer, c.history, c.breakpoints
    args = (t, seconds, history.every, bp.next_at, most, epochs)
    kept, state, bad, ended = await replica.call(replica.train, args, replica.shared(t))
    c.branch()
    extra = {"config": c.config(), "data": c.data}
    for snap in kept:
        if bad is None or snap["step"] < bad.step:
            history.save({**snap, **extra})
    replica.taken(t, state)
    history.reached(t.step_count)
    for e in ended:
        c.add_curve(e)
    if bad is not None:  # as Cursor.check: the future after the step before is dropped
        c.branch(always=True)
        c.good = None
        await work.run(bp.reset, t, flops=evaluation_flops(c))
        raise diverged(bad, c.scenario.optimizer.learning_rate)
    c.good, c.checked_at = t.snapshot(), time.perf_counter()
    if t.step_count >= bp.next_at:
        c.hit = await work.run(bp.at, t, c.task, flops=evaluation_flops(c)) or c.hit
    return ended


async def check(c: Cursor, good: Snapshot) -> Snapshot:
    """c.check(good): the guard after unchecked steps, about one step's work (more to replay
    a divergence, which ends the command); nothing when no step was taken since `good`."""
    if good["step"] == c.trainer.step_count:
        return good
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
    return _evaluation_flops(c.trainer)


def _evaluation_flops(t: Any) -> int:
    return work.forward_flops(t.net.layers, len(t.x) + (0 if t.x_test is None else len(t.x_test)))
