"""Play modes: animate phase by phase on a timer, or train in short slices with frames at a fixed rate."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from app.protocol import encode
from app.session import branch, healthfeed, offload, replica, work
from app.session.breakpoints import Paused, reason
from app.session.cursor import Cursor
from app.session.outbox import Message

log = logging.getLogger("deltaflow.play")
T = TypeVar("T")
UNREAD_SECONDS = 1.0  # a run whose frames no member takes for this long pauses
HEAVY_SLICE = 0.05  # seconds of training at once off the loop, when a step outlasts a slice (then a check)

if TYPE_CHECKING:
    from app.session.session import Session


# overflow is expected when training diverges; it is caught by finite checks, not warnings
def quiet() -> np.errstate:
    return np.errstate(all="ignore")


def start_animation(s: "Session", speed: float) -> None:
    s.speed = speed
    s.playing = "animate"
    s.animation = asyncio.get_running_loop().create_task(animate(s))


def start_training(s: "Session", fps: int, rate: float | None = None) -> None:
    if s.cursor.pending is not None:
        s.cursor.finish()
    s.fps = fps
    s.rate = rate
    s.rate_from = (time.perf_counter(), s.cursor.trainer.step_count)
    s.playing = "train"
    s.next_frame = time.perf_counter()
    s.scheduler.add(s)


def stop(s: "Session") -> None:
    if s.playing == "train":
        s.scheduler.remove(s)
    if s.playing == "train" and not s.slicing:  # a heavy slice checks its own training
        try:  # the training since the last check is checked before anything else is shown
            with quiet():
                s.cursor.train_check(time.perf_counter)
        except Paused as e:
            s.paused_reason = e.reason
    if s.animation is not None:
        s.animation.cancel()
        s.animation = None
    s.playing = None


async def animate(s: "Session") -> None:
    """One phase event every 1/speed seconds until paused or diverged."""
    try:
        while s.playing == "animate":
            try:
                with quiet():
                    c = s.cursor
                    if c.pending is None and c.step_flops() >= work.INLINE_FLOPS:
                        # begun whole even if a pause cancels this task meanwhile
                        await work.shielded(begun(s, c))
                    s.publish(*s.cursor.next_events())
            except Paused as e:
                s.playing = None
                s.paused_reason = e.reason
                s.publish(s.state())
                break
            hit = s.cursor.take_hit()
            if hit is not None:
                s.playing = None
                s.paused_reason = hit
                s.publish(s.state())
                s.publish_maps()
                break
            s.dirty = True
            if s.cursor.pending is None:
                s.publish_maps()
                if s.branch is not None:
                    await work.shielded(followed(s))
            await asyncio.sleep(1.0 / s.speed)
    finally:
        if s.animation is asyncio.current_task():
            s.animation = None


async def followed(s: "Session") -> None:
    """Run b brought to a's step, the session's lock held: a `pause` meanwhile waits for it
    (its own follow would step b a second time, from the same step)."""
    async with s.lock:
        await branch.follow(s)


async def begun(s: "Session", c: "Cursor") -> None:
    """The next step of an animation, computed off the loop, the session's lock held (no
    command meets it half done); its events are then shown one by one."""

    async def body() -> None:
        if c.pending is None and c is s.cursor:
            with quiet():
                c.pending, c.index = await offload.begin(c), 0

    await in_turn(s, c.step_flops(), body)


async def in_turn(s: "Session", flops: int, body: Callable[[], Awaitable[T]]) -> T:
    """body() with the session's lock held, for work of `flops` a step, its calls to a replica
    finding a free one at once (replica.at_once). When none is free, the lock is let go and
    the turn (replica.turn) waited for again: a command such as `pause` waits for this
    session's own work only, never for other sessions' work queued in the replica."""
    while True:
        await replica.turn(flops)
        try:
            async with s.lock:
                with replica.at_once():
                    return await body()
        except replica.Busy:  # raised before anything was changed: wait in line
            flops = replica.REMOTE_FLOPS
        finally:
            replica.released()  # a replica held for it and not used goes to the next in line


def train_slice(s: "Session") -> None:
    """Train for about one slice, then send a frame when one is due (called by the scheduler)."""
    most = steps_due(s)
    if most == 0 and time.perf_counter() < s.next_frame:
        rest(s)
        return
    if s.cursor.step_flops() >= work.INLINE_FLOPS:  # one step outlasts a slice: off the loop
        s.scheduler.remove(s)
        s.frame_task = asyncio.get_running_loop().create_task(heavy_slice(s))
        return
    s.dirty = True
    with quiet():
        try:
            due = time.perf_counter() + s.options.slice_seconds >= s.next_frame
            if s.branch is not None:  # run b in lockstep, within the same slice
                s.branch.train_for(s.cursor, s.options.slice_seconds, time.perf_counter, due)
            else:
                s.cursor.train_for(s.options.slice_seconds, time.perf_counter, check=due, max_steps=steps_due(s))
        except Paused as e:
            s.fail(e.reason)
            s.publish_maps()
            return
    frame_if_due(s)


async def heavy_slice(s: "Session") -> None:
    """train_slice for a run whose step outlasts a slice: HEAVY_SLICE of training and the
    guard's check off the loop (offload.train_for), the session's lock held meanwhile."""

    def train_both() -> None:  # run b in lockstep
        with quiet():
            s.branch.train_for(s.cursor, HEAVY_SLICE, time.perf_counter, True)

    async def body() -> bool:  # trained on: the session goes back to the scheduler
        if s.playing != "train":
            return False
        s.dirty, s.slicing = True, True
        try:
            if s.branch is not None:
                await work.in_thread(train_both)
            else:
                await offload.train_for(s.cursor, HEAVY_SLICE, steps_due(s))
        except Paused as e:
            s.fail(e.reason)
            s.publish_maps()
            return False
        except replica.Busy:
            raise
        except Exception as e:
            failed(s, e)
            return False
        finally:
            s.slicing = False
        frame_if_due(s)  # a heavy frame waits for the lock
        return True

    if await in_turn(s, s.cursor.step_flops(), body) and s.frame_task is asyncio.current_task():
        if s.playing == "train":
            s.scheduler.add(s)


def frame_if_due(s: "Session") -> None:
    """After a slice: the frame, when one is due (and a pause, when nobody reads them)."""
    now = time.perf_counter()
    if now >= s.next_frame:
        # keep the cadence: one period after the last deadline, not after this (late) slice,
        # unless far behind; with many sessions a round of slices can outlast a period
        period = 1.0 / s.fps
        s.next_frame = max(s.next_frame + period, now - period / 2)
        # a frame still unsent to every member means nobody reads: after a second of that,
        # stop spending a core on a run no one sees (a client that never reads costs nothing).
        # Timed, not counted: with many sessions training, each gets few frames a second.
        unread = s.room.members and all(box.frame is not None for box in s.room.members)
        s.unread_since = (s.unread_since or now) if unread else None
        if s.unread_since is not None and now - s.unread_since >= UNREAD_SECONDS:
            s.unread_since = None
            text = "Paused: no one has read this session's frames for a second."
            s.fail(reason("unread", text, s.cursor.trainer.step_count))
            return
        health_flops = healthfeed.flops(s.cursor) if now - s.health_at >= healthfeed.HEALTH_EVERY else 0
        if frame_flops(s) + health_flops < work.INLINE_FLOPS:
            s.room.put_frame(frame(s))
            health(s, now)
        else:  # evaluating 10,000 examples takes a while: pause this run, frame off the loop
            s.scheduler.remove(s)
            s.frame_task = asyncio.get_running_loop().create_task(heavy_frame(s))


def failed(s: "Session", e: Exception) -> None:
    """A run that cannot go on (a bug, or the machine): it pauses and says why; others go on."""
    log.exception("training failed")
    s.fail(reason("failed", f"Training stopped: {e}"))


def steps_due(s: "Session") -> int | None:
    """How many steps the rate allows now (None: no rate, as many as fit in the slice)."""
    if s.rate is None:
        return None
    t0, step0 = s.rate_from
    return max(0, int(s.rate * (time.perf_counter() - t0)) - (s.cursor.trainer.step_count - step0))


def rest(s: "Session") -> None:
    """Under a rate, nothing to do until the next step or frame is due: off the scheduler till then."""
    assert s.rate is not None
    t0, step0 = s.rate_from
    next_step = t0 + (s.cursor.trainer.step_count - step0 + 1) / s.rate
    wait = max(0.0, min(next_step, s.next_frame) - time.perf_counter())
    s.scheduler.remove(s)
    asyncio.get_running_loop().call_later(wait, resume, s)


def resume(s: "Session") -> None:
    heavy = s.frame_task is not None and not s.frame_task.done()  # it adds the session back itself
    if s.playing == "train" and not heavy:
        s.scheduler.add(s)


def health(s: "Session", now: float) -> None:
    """The health event beside a frame, at most every HEALTH_EVERY seconds."""
    if now - s.health_at >= healthfeed.HEALTH_EVERY:
        s.health_at = now
        s.room.put([health_message(s)])


def health_message(s: "Session") -> Message:
    return Message(encode(healthfeed.event(s.cursor)))


def frame_flops(s: "Session") -> int:
    """A frame evaluates the training and test sets and, on a plane, the maps' grid (when sent)."""
    c = s.cursor
    maps = (c.maps_flops() if s.room.server_maps else 0) + (c.maps_flops() if s.branch is not None else 0)
    return offload.evaluation_flops(c) + maps


async def heavy_frame(s: "Session") -> None:
    async def body() -> None:  # no command changes the network meanwhile
        now = time.perf_counter()
        due = now - s.health_at >= healthfeed.HEALTH_EVERY

        def both(m: dict[str, Any]) -> tuple[list[Message], Message | None]:
            with quiet():
                return frame(s, m), health_message(s) if due else None

        try:
            with quiet():
                m = await offload.measured_off_loop(frame_args(s))
            msgs, health_msg = await work.in_thread(both, m)
        except replica.Busy:
            raise
        except Exception as e:  # as the scheduler does for an inline slice: this run stops, others go on
            return failed(s, e)
        s.room.put_frame(msgs)
        if health_msg is not None:  # a deep net's health takes milliseconds: computed beside the frame
            s.health_at = now
            s.room.put([health_msg])
        if s.playing == "train":
            s.scheduler.add(s)

    await in_turn(s, frame_flops(s), body)


def frame(s: "Session", m: dict[str, Any] | None = None) -> list[Message]:
    """The train-mode frame: curve row, parameters, gradient norms, and the maps after it;
    `m`, what offload.measured gave for it (computed here when None)."""
    c = s.cursor
    t = c.trainer
    m = m if m is not None else offload.measured(*frame_args(s))
    row = {"step": t.step_count, "epoch": t.epochs_done, **m["row"]}
    c.add_curve(row)
    msgs = [] if m["maps"] is None else [Message(m["maps"], True)]
    event = {
        "type": "frame",
        **row,
        "weights": t.net.w,
        "biases": t.net.b,
        "grad_norms": [float(np.linalg.norm(g)) for g in t.last_grad_w],
        "maps": m["seq"],
        "a": m["a"],
        "outputs": m["outputs"],
    }
    if s.branch is not None:
        msgs.append(Message(encode(s.branch.frame_event(c, m["row"]["train_loss"]))))
    return [Message(encode(event)), *msgs]


def frame_args(s: "Session") -> tuple[Any, ...]:
    """offload.measured's arguments for the next frame: the maps' next number (their grid only
    when some member is sent them; every other draws them from the frame's weights) and the
    highlighted example."""
    c = s.cursor
    t = c.trainer
    seq = None
    if c.points is not None:
        c.map_seq += 1
        seq = c.map_seq
    idx = t.next_indices()
    x = t.x[idx[min(c.selected, len(idx) - 1)]][None, :]
    return t, x, c.points if s.room.server_maps else None, seq, c.tabled
