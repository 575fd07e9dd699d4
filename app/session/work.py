"""Heavy work kept off the event loop: what a command costs, the cap on a traced step's size,
and running the costly parts in a worker thread with progress and cancellation.

The loop must answer every connection within a few milliseconds. Small work runs inline (a
thread hop costs ~0.1 ms, as much as a whole step of a small net); work above INLINE_FLOPS
runs in a thread, where numpy releases the GIL and the server's short switch interval gives
the loop its turns. Those threads run at a lower priority (BACKGROUND_NICE), so that when the
cores are busy the scheduler gives the loop's thread the CPU first.
"""

import asyncio
import contextvars
import functools
import os
import pickle
import sys
import threading
import time
import weakref
from asyncio.subprocess import DEVNULL, PIPE
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

T = TypeVar("T")
INLINE_FLOPS = 2_000_000  # about 1 ms of numpy on this class of machine
WORKER_FLOPS = 1_000_000_000  # about half a second: worth a worker process's start (~0.3 s)
MAX_WORKERS = max(1, (os.cpu_count() or 2) - 1)  # worker processes at once; more clients wait their turn
_SLOTS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()
TRACE_NUMBERS = 32_768  # per-example numbers in one traced step (about 700 KB of JSON)
DATASET_NUMBERS = 65_536  # numbers of one part (train or test) of a `dataset` event (about 1.3 MB)
PROGRESS_AFTER = 1.0  # seconds before a long command reports progress
PROGRESS_EVERY = 0.5
BACKGROUND_NICE = 10  # added to a worker thread's nice value: CFS gives it ~1/10 of a contended core

# per-example arrays of each traced event, trimmed to the first `rows` examples
PER_EXAMPLE = {
    "batch": ("indices", "x", "y"),
    "forward": ("z", "a"),
    "output_error": ("losses", "output", "target", "dloss", "delta"),
    "backward": ("delta", "delta_input"),
}


class Cancelled(Exception):
    """`pause` stopped a long command."""


def forward_flops(layers: list[int], rows: int) -> int:
    """Multiply-adds of one forward pass over `rows` examples."""
    return rows * sum(a * b for a, b in zip(layers, layers[1:]))


def trace_rows(layers: list[int]) -> int:
    """How many examples of a traced step fit within TRACE_NUMBERS: the numbers per example
    are its x, y and index, z and a of every layer, five output rows and a loss, every delta,
    and dE/dx."""
    n0, nl, hidden = layers[0], layers[-1], sum(layers[1:])
    width = (n0 + nl + 1) + 2 * hidden + (4 * nl + 1) + hidden + n0
    return max(1, TRACE_NUMBERS // width)


def cap(events: list[dict[str, Any]], layers: list[int]) -> list[dict[str, Any]]:
    """Trim the per-example arrays of a traced step to its first `rows` examples.

    Batch means (loss, grad_w, grad_b, dw, db) stay whole. A trimmed step's batch event
    carries `size`, the examples in the batch, and `rows`, the examples kept; an untrimmed
    one is exactly the engine's (as `deltaflow trace` writes it).
    """
    m = len(events[0]["x"])
    rows = trace_rows(layers)
    if rows >= m:
        return events
    events[0]["size"], events[0]["rows"] = m, rows
    for e in events:
        for key in PER_EXAMPLE.get(e["type"], ()):
            if isinstance(e.get(key), np.ndarray):
                e[key] = e[key][:rows]
    return events


def part(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """One part of a `dataset` event: whole, or its first rows within DATASET_NUMBERS and `size`."""
    rows = max(1, DATASET_NUMBERS // (x.shape[1] + y.shape[1]))
    if rows >= len(x):
        return {"x": x, "y": y}
    return {"x": x[:rows], "y": y[:rows], "size": len(x)}


class Progress:
    """Reports a long command's progress: after PROGRESS_AFTER, at most every PROGRESS_EVERY.

    `report(done, total)` may be called from a worker thread; `cancelled()` tells it to stop.
    """

    def __init__(self, request: str, publish: Callable[[dict[str, Any]], None], cancelled: Callable[[], bool]):
        self.request, self.publish, self.cancelled = request, publish, cancelled
        self.start = time.monotonic()
        self.next = self.start + PROGRESS_AFTER
        self.loop = asyncio.get_running_loop()

    def report(self, done: int, total: int) -> None:
        if self.cancelled():
            raise Cancelled
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + PROGRESS_EVERY
        event = {"type": "progress", "request": self.request, "done": done, "total": total}
        self.loop.call_soon_threadsafe(self.publish, event)


def _lower_priority() -> None:
    """Lower the calling thread's priority (Linux schedules threads one by one); elsewhere, a no-op."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE))
    except (AttributeError, OSError):
        pass


_THREADS = ThreadPoolExecutor(thread_name_prefix="background", initializer=_lower_priority)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in one of the low-priority worker threads (asyncio.to_thread's pool runs at the
    loop's), in the caller's context, as to_thread does: numpy's errstate (a training step's
    expected overflow, quiet) is a context variable."""
    call = functools.partial(contextvars.copy_context().run, fn, *args)
    return await asyncio.get_running_loop().run_in_executor(_THREADS, call)


def shielded(coro: Coroutine[Any, Any, T]) -> "asyncio.Future[T]":
    """coro as a task that runs to its end even when its awaiter is cancelled; its exception,
    then, is read here rather than reported as never retrieved."""
    task = asyncio.ensure_future(coro)
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return asyncio.shield(task)


async def run(fn: Callable[..., T], *args: Any, flops: int) -> T:
    """fn(*args) inline when small, else in a low-priority worker thread."""
    if flops < INLINE_FLOPS:
        return fn(*args)
    return await in_thread(fn, *args)


def child_env() -> dict[str, str]:
    """The environment for `python -m app....`: this copy of the package, whatever is installed."""
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}


async def checked(fn: Callable[..., T], *args: Any, flops: int, progress: Progress) -> T:
    """fn(*args, tick), where tick(done, total) reports progress: inline when small, in a
    thread when moderate, and from WORKER_FLOPS on in a child process at a lower priority
    (app/worker.py), which shares neither the interpreter nor, on a busy machine, the CPU
    with the connections. `fn` and `args` must pickle. Cancelled when `pause` stops it (the
    child is killed); the child's exception is raised here."""
    if flops < WORKER_FLOPS:
        return await run(fn, *args, progress.report, flops=flops)
    slots = _SLOTS.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(MAX_WORKERS))
    while True:  # a free worker, unless `pause` comes first
        try:
            await asyncio.wait_for(slots.acquire(), 0.1)
            break
        except TimeoutError:
            if progress.cancelled():
                raise Cancelled from None
    try:
        return await _in_worker(fn, args, progress)
    finally:
        slots.release()


async def _in_worker(fn: Callable[..., T], args: tuple[Any, ...], progress: Progress) -> T:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.worker", stdin=PIPE, stdout=PIPE, stderr=DEVNULL, env=child_env()
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL))
        await proc.stdin.drain()
        proc.stdin.close()
        while True:
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), 0.1)
            except TimeoutError:  # no progress line yet: `pause` may still stop it
                if progress.cancelled():
                    raise Cancelled from None
                continue
            kind, _, rest = line.partition(b" ")
            if kind == b"progress":
                done, total = map(int, rest.split())
                progress.report(done, total)
            elif kind == b"result":
                data = await proc.stdout.readexactly(int(rest))
                break
            else:  # the child died
                raise RuntimeError(f"the worker process failed (exit code {await proc.wait()})")
        await proc.wait()
    finally:
        if proc.returncode is None:  # cancelled, or failed
            proc.kill()
            await proc.wait()
    kind, value = pickle.loads(data)  # our own child's answer
    if kind == "error":
        raise value
    return cast(T, value)


async def in_process(module: str, data: bytes) -> Any:
    """`python -m module` fed `data` on stdin; the object it pickles to stdout, for one C call
    too long to hold the interpreter (decoding megabytes of JSON). A fresh process each time
    (~0.5 s to start): rare, large documents only. The module's answer is ("ok", result) or
    ("error", exception); RuntimeError if the process fails."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, stdin=PIPE, stdout=PIPE, stderr=PIPE, env=child_env()
    )
    try:
        out, err = await proc.communicate(data)
    finally:
        if proc.returncode is None:  # cancelled
            proc.kill()
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise RuntimeError(f"reading the document failed ({module}: {tail[0]})")
    kind, value = await in_thread(pickle.loads, out)  # our own child's answer
    if kind == "error":
        raise value
    return value
