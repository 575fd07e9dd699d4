"""Checkpoints of a run, so any recent step can be brought back exactly.

A checkpoint every `every` steps, plus one wherever the user changed something; a step
between two is recomputed from the one before it (steps are deterministic). Every checkpoint,
forced ones included, counts against `max_bytes`: the oldest go first.
"""

from bisect import bisect_right
from itertools import count
from typing import Any

import numpy as np

Snapshot = dict[str, Any]
# each checkpoint kept gets a number of its own, so that what a store has already written is told
# apart without holding on to the checkpoints themselves
_SERIALS = count(1)


def nbytes(x: Any) -> int:
    """Bytes of the arrays in a snapshot (parameters, optimizer state), however nested."""
    if isinstance(x, np.ndarray):
        return int(x.nbytes)
    if isinstance(x, dict):
        return sum(nbytes(v) for v in x.values())
    if isinstance(x, list | tuple):
        return sum(nbytes(v) for v in x)
    return 0


class History:
    """Checkpoints by step; `first`..`last` are the steps that can be brought back."""

    def __init__(self, keep_steps: int, every: int, max_bytes: int = 64 * 2**20) -> None:
        self.keep_steps, self.every, self.max_bytes = keep_steps, every, max_bytes
        self.steps: list[int] = []
        self.snaps: dict[int, Snapshot] = {}
        self.sizes: dict[int, int] = {}
        self.serials: dict[int, int] = {}
        self.bytes = 0
        self.last = 0

    @property
    def first(self) -> int:
        return self.steps[0] if self.steps else 0

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def reached(self, step: int) -> None:
        self.last = max(self.last, step)

    def save(self, snap: Snapshot) -> None:
        """Keep a checkpoint (replacing one at the same step, as an edit does)."""
        s = snap["step"]
        self.reached(s)
        if s in self.snaps:
            self.bytes -= self.sizes[s]
        else:
            self.steps.insert(bisect_right(self.steps, s), s)
        self.snaps[s] = snap
        self.sizes[s] = nbytes(snap)
        self.serials[s] = next(_SERIALS)
        self.bytes += self.sizes[s]
        # drop checkpoints once the next one alone still covers the last keep_steps, or over budget
        while len(self.steps) > 1 and (self.steps[1] <= self.last - self.keep_steps or self.bytes > self.max_bytes):
            self._drop(self.steps.pop(0))

    def _drop(self, step: int) -> None:
        del self.snaps[step]
        del self.serials[step]
        self.bytes -= self.sizes.pop(step)

    def copy(self) -> "History":
        """A history of its own sharing these checkpoints (they never change in place)."""
        h = History(self.keep_steps, self.every, self.max_bytes)
        h.steps, h.snaps, h.sizes, h.serials = list(self.steps), dict(self.snaps), dict(self.sizes), dict(self.serials)
        h.bytes, h.last = self.bytes, self.last
        return h

    def replace(self, snaps: dict[int, Snapshot]) -> None:
        """Hold exactly these checkpoints (read back from a store)."""
        self.steps, self.snaps = sorted(snaps), dict(snaps)
        self.sizes = {k: nbytes(v) for k, v in snaps.items()}
        self.serials = {k: next(_SERIALS) for k in snaps}
        self.bytes = sum(self.sizes.values())

    def truncate(self, step: int) -> None:
        """Forget the future after `step` (stepping on after a seek, or an edit)."""
        while self.steps and self.steps[-1] > step:
            self._drop(self.steps.pop())
        self.last = step

    def base(self, step: int) -> Snapshot:
        """The latest checkpoint at or before `step`."""
        return self.snaps[self.steps[bisect_right(self.steps, step) - 1]]

    def before(self, step: int) -> Snapshot | None:
        """The latest checkpoint strictly before `step`, if any."""
        i = bisect_right(self.steps, step - 1)
        return self.snaps[self.steps[i - 1]] if i else None
