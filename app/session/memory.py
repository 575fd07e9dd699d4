"""The process's memory against its budget (DELTAFLOW_MEMORY_MB): what is refused when over it."""

import os
import sys

from app.protocol import ProtocolError

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
