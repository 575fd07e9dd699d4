"""The room directory: join code -> the session it broadcasts, with limits and idle expiry.

In one process it is a dict; across workers (DELTAFLOW_REDIS_URL) `remote`, the worker's
Cluster (app/session/cluster.py), finds rooms in the directory it keeps in Redis.
"""

import time
from collections.abc import Callable
from typing import Any

from app.session.room import new_code, normalize_code
from app.session.session import Session


class RoomsFull(Exception):
    """DELTAFLOW_MAX_ROOMS rooms are open."""


class Directory:
    """Open rooms by code; `stored` are rooms saved before a restart (code -> session id), which
    `restore` brings back when first asked for."""

    def __init__(self, max_rooms: int, idle_seconds: float, max_viewers: int) -> None:
        self.max_rooms, self.idle_seconds, self.max_viewers = max_rooms, idle_seconds, max_viewers
        self.rooms: dict[str, Session] = {}
        self.stored: dict[str, str] = {}
        self.restore: Callable[[str], Session | None] | None = None
        self.remote: Any = None  # with Redis: the Cluster, which knows other workers' rooms

    def __len__(self) -> int:
        return len(self.rooms)

    def create(self, s: Session) -> tuple[str, str]:
        """Open a room on session `s` (or return its code with a fresh token): (code, token)."""
        self.expire()
        if s.room.code is not None and self.rooms.get(s.room.code) is s:
            return s.room.code, s.room.open(s.room.code)
        if len(self.rooms) >= self.max_rooms:
            raise RoomsFull(f"the server has {self.max_rooms} rooms open, its limit")
        code = new_code()
        while code in self.rooms or code in self.stored:
            code = new_code()
        token = s.room.open(code)
        self.rooms[code] = s
        s.dirty = True
        return code, token

    def get(self, code: str) -> Session | None:
        code = normalize_code(code)
        s = self.rooms.get(code)
        if s is None and code in self.stored and self.restore is not None:
            self.restore(self.stored[code])  # registers the room when it comes back
            self.stored.pop(code, None)
            s = self.rooms.get(code)
        return s

    async def find(self, code: str) -> Any:
        """As get(), and with Redis a room another worker owns (a Mirror of it, app/session/fanout.py)."""
        if self.remote is not None:
            return await self.remote.find_room(code)
        return self.get(code)

    def sessions(self) -> set[int]:
        return {id(s) for s in self.rooms.values()}

    def expire(self) -> list[Session]:
        """Close rooms whose presenters have been away for idle_seconds; returns their sessions."""
        now = time.monotonic()
        closed = []
        for code, s in list(self.rooms.items()):
            if not s.room.presenting and now - max(s.room.last_presenter, s.last_seen) > self.idle_seconds:
                del self.rooms[code]
                closed.append(s)
        return closed
