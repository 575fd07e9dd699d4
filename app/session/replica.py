"""A warm worker process that takes a large run's steps: `python -m app.worker serve`.

A traced step of 2-64-64-1 over 10,000 examples is ~50 ms of numpy. In a thread it shares the
interpreter with the event loop: numpy releases the GIL, but every Python line between its
calls takes it back, and the other sessions' round trips doubled. A child process shares
neither the interpreter nor, at a lower priority, the CPU the loop asks for. It is started
once and kept (a start costs ~0.3 s), and it keeps the run's data, so a step sends only the
trainer's small state and gets back its events, already encoded, and the state after it.

`step` (a traced step) and `train` (untraced steps, then the guard's check) are what run in
the child, and a large run is built there (offload.built): the arrays it was sent come back
as their tokens. The parent side is `call`, which raises Unavailable when the child cannot answer,
so that the caller runs the work in a thread instead, with nothing changed.
"""

import asyncio
import collections
import contextlib
import contextvars
import io
import itertools
import pickle
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from subprocess import DEVNULL, PIPE
from typing import Any

import numpy as np

from app.codec import encode_in_pieces
from app.nn import guard
from app.session import work

REMOTE_FLOPS = 30_000_000  # a step's flops from which it goes to the replica: ~15 ms, beside ~1 ms of round trip
REPLY_SECONDS = 10.0  # a replica that takes longer (stopped, swapping) is killed: a thread does the work
IDLE_SECONDS = 300.0  # a replica unused this long exits, and gives back its memory
SHARED_BYTES = 64 * 1024  # arrays this large or larger are kept by the replica, not sent each time


class Unavailable(Exception):
    """The replica could not answer (it failed to start or died); nothing was changed."""


class Busy(Exception):
    """Under at_once, no replica was free; nothing was asked or changed."""


_patient: contextvars.ContextVar[bool] = contextvars.ContextVar("replica_patient", default=True)


@contextlib.contextmanager
def at_once() -> Iterator[None]:
    """Within it, a first call that finds no free replica raises Busy instead of queueing: for
    a session that holds its own lock, which lets it go and waits for its turn (turn) again,
    so that its `pause` never waits behind other sessions' work. Later calls wait."""
    token = _patient.set(False)
    try:
        yield
    finally:
        _patient.reset(token)


def step(t: Any) -> tuple[list[dict[str, Any]], list[bytes], dict[str, Any]]:
    """In the replica: one traced, guarded step of trainer `t` (guard.step), its events capped
    (work.cap) and encoded (codec.encode_in_pieces), each also without its arrays (light),
    and the state after it (after). Diverged as guard.step raises it."""
    events = work.cap(guard.step(t, trace=True), t.net.layers)
    return [light(e) for e in events], [encode_in_pieces(e) for e in events], after(t)


def after(t: Any) -> dict[str, Any]:
    """The state a step leaves: Trainer.snapshot, with the last gradient and changes (the
    frame's gradient norms and the explain panel read them); `taken` puts it back."""
    return {**t.snapshot(), "last_grad_w": t.last_grad_w, "last_changes": t.last_changes}


def taken(t: Any, state: dict[str, Any]) -> None:
    """Trainer `t` put at the state `after` gave in the replica."""
    t.restore(state)
    t.last_grad_w, t.last_changes = state["last_grad_w"], state["last_changes"]


def shared(t: Any) -> list[np.ndarray]:
    """A trainer's data: the arrays the replica keeps from call to call."""
    return [a for a in (t.x, t.y, t.x_test, t.y_test) if a is not None]


def light(e: dict[str, Any]) -> dict[str, Any]:
    """An event without its arrays: what the server reads of one it sends already encoded."""
    return {k: v for k, v in e.items() if not isinstance(v, np.ndarray)}


def train(
    t: Any, seconds: float, every: int, stop_at: float, most: int | None, epochs: bool = False
) -> tuple[list[Any], Any, Any, list[dict[str, Any]]]:
    """In the replica: untraced steps of trainer `t` for about `seconds` (at most `most`), up
    to step `stop_at` (a breakpoint's), then the guard's check of them (guard.check, from the
    state they started at). The checkpoints at multiples of `every`, the state after (as
    `step` gives it), guard.Diverged or None (diverged, the state is the step before), and,
    with `epochs`, the `epoch` event of each epoch they ended (Trainer.epoch_event)."""
    good, kept, ended, done = t.snapshot(), [], [], 0
    end = time.perf_counter() + seconds
    with np.errstate(all="ignore"):  # a diverging step overflows; the check reports it
        while most is None or done < most:
            before = t.epochs_done
            t.step()
            done += 1
            if t.step_count % every == 0:
                kept.append(t.snapshot())
            if epochs and t.epochs_done != before:
                ended.append(t.epoch_event())
            if t.step_count >= stop_at or time.perf_counter() >= end:
                break
        try:
            guard.check(t, good)
            bad = None
        except guard.Diverged as e:
            bad = e
    return kept, after(t), bad, [e for e in ended if bad is None or e["step"] < bad.step]


def ready() -> bool:
    """In the replica: nothing, once this module (and what a step needs) is imported."""
    return True


_tokens: dict[int, tuple[weakref.ref, int]] = {}  # id(array) -> (the array, its token)
_arrays: "weakref.WeakValueDictionary[int, np.ndarray]" = weakref.WeakValueDictionary()  # token -> array
_next_token = itertools.count(1)


def _token(a: np.ndarray) -> int:
    """A number for array `a` while it lives (ids are reused once an array is freed)."""
    held = _tokens.get(id(a))
    if held is not None and held[0]() is a:
        return held[1]
    if len(_tokens) > 4096:  # forget the freed ones
        for k in [k for k, (ref, _) in _tokens.items() if ref() is None]:
            del _tokens[k]
    token = next(_next_token)
    _tokens[id(a)] = (weakref.ref(a), token)
    _arrays[token] = a
    return token


class _Loader(pickle.Unpickler):
    """Our child's answer, whose arrays that we sent it are their tokens."""

    def persistent_load(self, token: Any) -> Any:
        a = _arrays.get(token)
        if a is None:
            raise pickle.UnpicklingError(f"the replica named an array that is gone: {token}")
        return a


class _Dumper(pickle.Pickler):
    def __init__(self, file: io.BytesIO, shared: dict[int, int]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared = shared

    def persistent_id(self, obj: Any) -> Any:
        return self.shared.get(id(obj)) if type(obj) is np.ndarray else None


class Replica:
    """One warm child process, one request at a time. The exchange runs in a worker thread with
    blocking pipes: reading megabytes of answer through the event loop held it for milliseconds."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.kept: set[int] = set()  # tokens the child was sent (it may have dropped some)
        self.lock = asyncio.Lock()
        self.queued = 0  # calls admitted and not yet ended: free when 0
        self.held: Any = None  # the task it is held for, once free (free(), released())
        self.idle: asyncio.TimerHandle | None = None
        self.closed = False  # the server is shutting down: start no child

    def start(self) -> subprocess.Popen[bytes]:
        """The child, started when there is none (or it has died)."""
        if self.closed:
            raise EOFError("the replicas are closed")
        if self.proc is not None and self.proc.poll() is not None:
            self.proc = None  # killed from outside (its reaper closed its pipes)
        if self.proc is None:
            argv = [sys.executable, "-m", "app.worker", "serve"]
            self.proc = subprocess.Popen(argv, stdin=PIPE, stdout=PIPE, stderr=DEVNULL, env=work.child_env())
            # reaped as soon as it dies, even idle: killed from outside, it would stay a zombie
            threading.Thread(target=_reap, args=(self.proc,), name="replica-reaper", daemon=True).start()
            self.kept = set()
        return self.proc

    async def call(self, fn: Callable[..., Any], args: tuple[Any, ...], shared: list[np.ndarray]) -> Any:
        """fn(*args) in the child, with the arrays `shared` kept there between calls. Runs to its
        end even when the caller is cancelled, so that the next request finds the pipe in step."""
        self.queued += 1
        return await work.shielded(self._locked(fn, args, shared))

    async def _locked(self, fn: Callable[..., Any], args: tuple[Any, ...], shared: list[np.ndarray]) -> Any:
        try:
            return await self._exchanged(fn, args, shared)
        finally:
            self.queued -= 1
            if not self.queued:
                _freed()

    async def _exchanged(self, fn: Callable[..., Any], args: tuple[Any, ...], shared: list[np.ndarray]) -> Any:
        async with self.lock:
            if self.idle is not None:
                self.idle.cancel()
            exchange = asyncio.ensure_future(work.in_thread(self._ask, fn, args, shared))
            try:
                kind, value = await asyncio.wait_for(asyncio.shield(exchange), REPLY_SECONDS)
            except (OSError, EOFError, ValueError, pickle.UnpicklingError, TimeoutError) as e:
                self.stop()  # killed: a read that waits for it ends
                await asyncio.gather(exchange, return_exceptions=True)
                raise Unavailable(f"the replica failed: {e!r}") from None
            finally:
                self.idle = asyncio.get_running_loop().call_later(IDLE_SECONDS, self.stop)
        if kind == "error":
            raise value
        return value

    def _ask(self, fn: Callable[..., Any], args: tuple[Any, ...], shared: list[np.ndarray]) -> tuple[str, Any]:
        proc = self.start()
        assert proc.stdin is not None and proc.stdout is not None
        tokens = {id(a): _token(a) for a in shared if a.nbytes >= SHARED_BYTES}
        body = io.BytesIO()
        _Dumper(body, tokens).dump((fn, args))
        for attempt in range(2):
            send = {t: a for a in shared if (t := tokens.get(id(a))) and (attempt or t not in self.kept)}
            puts = pickle.dumps(send, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.write(b"%d %d\n" % (len(puts), body.tell()))
            proc.stdin.write(puts)
            proc.stdin.write(body.getbuffer())
            proc.stdin.flush()
            self.kept |= send.keys()
            n = int(proc.stdout.readline() or b"-1")
            data = proc.stdout.read(n) if n >= 0 else b""
            if len(data) != n:
                raise EOFError("the replica closed its pipe")
            kind, value = _Loader(io.BytesIO(data)).load()  # our own child's answer
            if kind != "missing":
                return kind, value
            self.kept = set()  # it dropped some: send them all
        raise EOFError("the replica lost the arrays it was sent twice")

    def stop(self) -> asyncio.Future[Any] | None:
        """End the child, if any: the next call starts another. What reaps it, in a thread."""
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        proc.kill()
        return asyncio.ensure_future(work.in_thread(_reap, proc))


def _reap(proc: "subprocess.Popen[bytes]") -> None:
    """Wait for a killed child and close its pipes (a thread reading one lets go of it first)."""
    proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


_REPLICAS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Replica]]" = weakref.WeakKeyDictionary()


def _pool() -> list[Replica]:
    loop = asyncio.get_running_loop()
    if loop not in _REPLICAS:
        _REPLICAS[loop] = [Replica() for _ in range(work.MAX_WORKERS)]
    return _REPLICAS[loop]


async def call(fn: Callable[..., Any], args: tuple[Any, ...], shared: list[np.ndarray]) -> Any:
    """fn(*args) in a free replica (or the least busy, after its current requests); `shared`:
    the large arrays among the args that stay the same from call to call (a run's data).
    Unavailable when it cannot answer; the exception fn raised, as it raised it. A replica
    held for another task (free) is not free."""
    pool, me = _pool(), asyncio.current_task()
    free = next((r for r in pool if _usable(r, me)), None)
    if free is None and not _patient.get():
        raise Busy
    target = free or min(pool, key=lambda r: r.queued)
    target.held = None
    _patient.set(True)  # under at_once, a second call waits: the first may have changed things
    return await target.call(fn, args, shared)


def _usable(r: Replica, task: Any) -> bool:
    return not r.queued and r.held in (None, task)


async def free() -> None:
    """Until a replica is free for this task, first come first served, without taking it: a
    session waits here, not holding its own lock, so that its `pause` is not queued behind
    other sessions' work. The replica that falls free is held for the first in line until it
    calls, or gives it up (released)."""
    pool, me, line = _pool(), asyncio.current_task(), _line()
    nobody_before = not any(not w.done() for w, _ in line)
    if any(r.held is me for r in pool) or (nobody_before and any(_usable(r, me) for r in pool)):
        return
    woken = asyncio.get_running_loop().create_future()
    line.append((woken, me))
    try:
        await woken
    except asyncio.CancelledError:
        released()
        raise


def released() -> None:
    """This task no longer needs the replica held for it (if any): the next in line gets it."""
    me = asyncio.current_task()
    for r in _pool():
        if r.held is me:
            r.held = None
    _freed()


_LINES: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, collections.deque[tuple[asyncio.Future[None], Any]]]" = (
    weakref.WeakKeyDictionary()
)


def _line() -> "collections.deque[tuple[asyncio.Future[None], Any]]":
    return _LINES.setdefault(asyncio.get_running_loop(), collections.deque())


def _freed() -> None:
    """A replica fell free: held for the first task waiting in free(), which is woken."""
    line = _line()
    for r in _pool():
        if r.queued or r.held is not None:
            continue
        while line:
            woken, task = line.popleft()
            if not woken.done():
                r.held = task
                woken.set_result(None)
                break


async def turn(flops: int) -> None:
    """For work of `flops` a step: when it goes to a replica, until one is free (free)."""
    if flops >= REMOTE_FLOPS:
        await free()


async def _started(r: Replica) -> None:
    try:
        await r.call(ready, (), [])  # the child's imports done before a step needs them
    except Unavailable:
        pass  # the first step runs in a thread, and tries again


def warm() -> None:
    """Start a replica now, while a large run is being built, so that its first step does not wait."""
    try:
        r = _pool()[0]
    except RuntimeError:  # no event loop here (a session made outside the server): the first step starts it
        return
    if r.proc is None and not r.queued:
        asyncio.get_running_loop().create_task(_started(r))


async def close() -> None:
    """Stop this loop's replicas and wait for them (the app's shutdown)."""
    replicas = _REPLICAS.pop(asyncio.get_running_loop(), [])
    for r in replicas:
        r.closed = True
    await asyncio.gather(*(t for r in replicas if (t := r.stop())))
