"""Trains every playing session in turn, one short slice each, yielding to the event loop
between slices so that no connection waits on training for more than about a slice."""

import asyncio
import logging
from typing import Protocol

from app.session.breakpoints import Reason, reason

log = logging.getLogger("deltaflow.scheduler")
# A command takes about four loop turns to be answered (socket read, receive, the command,
# the send); yielding that many times after each slice lets it through behind one slice,
# not four. An idle turn costs a few microseconds.
TURNS = 4


class Trainable(Protocol):
    def train_slice(self) -> None: ...
    def fail(self, why: Reason) -> None: ...


class Scheduler:
    """Round-robin over the sessions in train mode."""

    def __init__(self) -> None:
        self.active: list[Trainable] = []
        self._wake = asyncio.Event()

    def add(self, s: Trainable) -> None:
        if s not in self.active:
            self.active.append(s)
        self._wake.set()

    def remove(self, s: Trainable) -> None:
        if s in self.active:
            self.active.remove(s)

    async def run(self) -> None:
        while True:
            if not self.active:
                self._wake.clear()
                await self._wake.wait()
                continue
            for s in list(self.active):
                if s in self.active:
                    try:
                        s.train_slice()
                    except Exception as e:  # one broken session must not stop the others
                        log.exception("training failed")
                        self.remove(s)
                        s.fail(reason("failed", f"Training stopped: {e}"))
                for _ in range(TURNS):
                    await asyncio.sleep(0)
