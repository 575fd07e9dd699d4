"""A subscriber's bounded outgoing queue.

Events are kept in order and never dropped while there is room; train frames coalesce (the
latest wins). When a slow subscriber lets the queue fill, it is emptied and the subscriber
is marked to receive a fresh `state` instead, so memory stays bounded and nobody waits.
"""

import asyncio
from collections import deque
from typing import NamedTuple


class Message(NamedTuple):
    """One websocket message, encoded once for every subscriber."""

    data: bytes
    binary: bool = False


class Outbox:
    """Bounded: at most `limit` messages plus one coalesced frame."""

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self.queue: deque[Message] = deque()
        self.frame: list[Message] | None = None  # the latest frame and its maps
        self.resync = False
        self.closed = False
        self.low_priority = False  # a room's viewer: its sends yield to others message by message
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def put(self, msg: Message) -> None:
        if len(self.queue) >= self.limit:
            self.queue.clear()
            self.resync = True
        self.queue.append(msg)
        self._changed()

    def put_frame(self, msgs: list[Message]) -> None:
        self.frame = msgs
        self._changed()

    def _changed(self) -> None:
        self._ready.set()
        if len(self.queue) >= self.limit // 2:
            self._room.clear()

    def __len__(self) -> int:
        return len(self.queue) + (1 if self.frame else 0)

    async def take(self) -> list[Message]:
        """Everything queued, in order, then the latest frame; waits while there is none."""
        while not self.queue and not self.frame:
            if self.closed:
                return []
            self._ready.clear()
            await self._ready.wait()
        out = list(self.queue)
        self.queue.clear()
        if self.frame:
            out.extend(self.frame)
            self.frame = None
        self._room.set()
        return out

    async def room(self) -> None:
        """Wait until the queue is at most half full (back-pressure on a client's commands)."""
        await self._room.wait()

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self._room.set()
