"""Long checks in a worker process (app/session/work.py, app/worker.py): the same answer as in
the server's own process, progress, `pause`, and the child's errors."""

import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app import scenario as sc
from app.nn.gradcheck import gradcheck
from app.session import work
from app.session.cursor import Cursor, Options


def slow(seconds: float, tick: Callable[[int, int], None]) -> float:
    """Ticks for `seconds` (a stand-in for a long check)."""
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        k += 1
        tick(k, 0)
        time.sleep(0.01)
    return seconds


def fails(tick: Callable[[int, int], None]) -> None:
    raise ValueError("the check found a fault")


def policy(tick: Callable[[int, int], None] | None = None) -> int:
    """The scheduling policy of the process it runs in."""
    return os.sched_getscheduler(0)


def progress(cancel: Callable[[], bool] = lambda: False) -> tuple[work.Progress, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    return work.Progress("gradcheck", seen.append, cancel), seen


def test_a_gradient_check_in_the_worker_equals_the_one_in_this_process() -> None:
    c = Cursor(sc.parse(sc.preset("spiral")), Options())
    t, (x, y) = c.trainer, c.batch()

    async def both() -> tuple[Any, Any]:
        p, _ = progress()
        child = await work.checked(gradcheck, t, x, y, 1e-5, flops=work.WORKER_FLOPS, progress=p)
        here = gradcheck(t, x, y, 1e-5, lambda d, n: None)
        return child, here

    child, here = asyncio.run(both())
    assert len(child) == len(here) == len(t.net.w)
    for a, b in zip(child, here):
        for key in ("grad_w", "numeric_w", "rel_error_w", "grad_b", "numeric_b", "rel_error_b"):
            assert np.array_equal(a[key], b[key]), key  # bit for bit: the same numpy, the same order


def test_the_worker_reports_progress_and_pause_kills_it() -> None:
    async def run() -> tuple[float, list[dict[str, Any]]]:
        stop = False
        p, seen = progress(lambda: stop)
        p.next = p.start  # report from the first tick

        async def pause_soon() -> None:
            nonlocal stop
            while not seen:
                await asyncio.sleep(0.05)
            stop = True

        t0 = time.monotonic()
        task = asyncio.create_task(pause_soon())
        with pytest.raises(work.Cancelled):
            await work.checked(slow, 30.0, flops=work.WORKER_FLOPS, progress=p)
        await task
        return time.monotonic() - t0, seen

    took, seen = asyncio.run(run())
    assert seen and seen[0]["type"] == "progress" and seen[0]["request"] == "gradcheck"
    assert took < 15.0, "pause did not stop the worker"


def test_the_workers_exception_is_raised_here() -> None:
    async def run() -> None:
        p, _ = progress()
        await work.checked(fails, flops=work.WORKER_FLOPS, progress=p)

    with pytest.raises(ValueError, match="found a fault"):
        asyncio.run(run())


def test_checks_beyond_the_worker_limit_wait_and_pause_stops_a_waiting_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(work, "MAX_WORKERS", 1)

    async def run() -> tuple[float, bool]:
        first, _ = progress()
        stop = False
        second, seen = progress(lambda: stop)
        running = asyncio.create_task(work.checked(slow, 1.0, flops=work.WORKER_FLOPS, progress=first))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(work.checked(slow, 30.0, flops=work.WORKER_FLOPS, progress=second))
        await asyncio.sleep(0.3)
        stop = True  # `pause` before the second had a worker
        with pytest.raises(work.Cancelled):
            await waiting
        return await running, bool(seen)

    done, second_ran = asyncio.run(run())
    assert done == 1.0 and not second_ran  # the second never started: it reported nothing


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="thread priorities are a Linux feature")
def test_heavy_work_runs_in_threads_below_the_loops_priority() -> None:
    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def both() -> tuple[int, int, int]:
        moderate = await work.run(nice, flops=work.INLINE_FLOPS)  # over the inline limit: a thread
        return nice(), moderate, await work.run(nice, flops=0)

    loop_nice, thread_nice, inline_nice = asyncio.run(both())
    assert thread_nice == min(19, loop_nice + work.BACKGROUND_NICE) and thread_nice > loop_nice
    assert inline_nice == loop_nice


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="scheduling policies are a Linux feature")
def test_worker_processes_and_the_replica_run_at_the_idle_policy() -> None:
    from app.session import replica

    async def run() -> tuple[int, int]:
        p, _ = progress()
        try:
            return await work.checked(policy, flops=work.WORKER_FLOPS, progress=p), await replica.call(policy, (), [])
        finally:
            await replica.close()

    assert asyncio.run(run()) == (os.SCHED_IDLE, os.SCHED_IDLE)
    assert policy() != os.SCHED_IDLE  # the server itself keeps its own
