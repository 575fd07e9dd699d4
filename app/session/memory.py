"""The process's memory against its budget (DELTAFLOW_MEMORY_MB): what is refused when over it."""

import asyncio
import ctypes
import functools
import os
import sys
import weakref
from typing import Any

from app.protocol import ProtocolError
from app.session import work

MB = 2**20
DEFAULT_CAP_MB = 4096  # the default budget is half the machine's RAM, at most this
DEGRADED_AT = 0.9  # /healthz says "degraded" past this share of the budget


def rss() -> int | None:
    """Resident bytes of this process, from /proc/self/statm; None where there is none (not Linux)."""
    if sys.platform != "linux":
        return None
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@functools.cache
def _libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")  # a foreign call through CDLL lets the interpreter go
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc
        return None


def release() -> None:
    """Give freed memory back to the kernel (glibc's malloc_trim; elsewhere nothing).

    The server asks glibc to keep what it frees (app/web/main.py, keep_freed_memory): maps
    reuse their pages instead of faulting them in again. The price is an RSS that holds the
    high-water mark of every thread's heap, which the memory budget would count as in use.
    """
    libc = _libc() if sys.platform == "linux" else None
    if libc is not None:
        libc.malloc_trim(0)


RELEASE_EVERY = 5.0  # seconds between two release_soon(): trimming locks the heap while it runs
_released_at: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, float]" = weakref.WeakKeyDictionary()
_tasks: set["asyncio.Task[None]"] = set()  # the loop keeps only weak references to tasks


def release_soon() -> None:
    """release() in a worker thread, at most every RELEASE_EVERY seconds: after a session's last
    connection leaves (a class leaving at once is one release)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not on a loop (a script or a test): nothing to hand to a thread
        return
    if loop.time() - _released_at.get(loop, -RELEASE_EVERY) < RELEASE_EVERY:
        return
    _released_at[loop] = loop.time()
    task = loop.create_task(work.in_thread(release))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def default_budget_mb() -> float:
    """Half the machine's RAM, at most DEFAULT_CAP_MB."""
    try:
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return DEFAULT_CAP_MB
    return float(min(DEFAULT_CAP_MB, ram / 2 / MB))


def budget_bytes(setting_mb: float) -> int:
    """The budget in bytes from DELTAFLOW_MEMORY_MB (0: the default)."""
    return int((setting_mb or default_budget_mb()) * MB)


def over(budget: int) -> bool:
    """Whether the process uses more than `budget` bytes (0: no budget)."""
    used = rss() if budget else None
    return used is not None and used > budget


def check(budget: int, what: str) -> None:
    """Raise ProtocolError `server_full` when the process uses more than `budget` bytes (0: no budget)."""
    used = rss() if budget else None
    if used is not None and used > budget:
        release()  # what was freed but kept counts until given back
        used = rss()
    if used is not None and used > budget:
        raise ProtocolError(
            "server_full",
            f"{what}: the server is using {used / MB:.0f} MB of memory, over its budget of {budget / MB:.0f} MB; "
            "try again later",
            what,
        )


def reasons(budget: int) -> list[str]:
    """What /healthz should say: memory past DEGRADED_AT of the budget."""
    used = rss() if budget else None
    if used is None or used <= DEGRADED_AT * budget:
        return []
    return [f"memory: {used / MB:.0f} MB of a budget of {budget / MB:.0f} MB"]
