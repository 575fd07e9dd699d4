"""Every live session by id, with idle expiry, and the rooms open on some of them."""

import asyncio
import secrets
import time
from typing import Any

from app import scenario as sc
from app.protocol import ProtocolError
from app.session.directory import Directory
from app.session.scheduler import Scheduler
from app.session.session import Options, Session


class Registry:
    """Creates, finds and expires sessions; `rooms` finds a session by its join code."""

    def __init__(
        self,
        options: Options,
        default_preset: str,
        idle_seconds: float,
        max_sessions: int,
        rooms: Directory | None = None,
    ) -> None:
        self.options, self.default_preset = options, default_preset
        self.idle_seconds, self.max_sessions = idle_seconds, max_sessions
        self.sessions: dict[str, Session] = {}
        self.scheduler = Scheduler()
        self.rooms = rooms if rooms is not None else Directory(max_rooms=50, idle_seconds=7200, max_viewers=500)

    def new_id(self) -> str:
        return secrets.token_urlsafe(12)

    def create(self, doc: dict[str, Any] | None = None) -> Session | None:
        """A new session on `doc` (default: the default preset); None when the server is full."""
        if not self._space():
            return None
        sid = self.new_id()
        s = Session(sid, doc if doc is not None else sc.preset(self.default_preset), self.options, self.scheduler)
        self.sessions[sid] = s
        return s

    def fork(self, s: Session) -> Session | None:
        """A private copy of `s` at its current state; None when the server is full."""
        if not self._space():
            return None
        copy = s.fork(self.new_id())
        self.sessions[copy.id] = copy
        return copy

    def _space(self) -> bool:
        self.expire()
        return len(self.sessions) < self.max_sessions

    def get(self, sid: str) -> Session | None:
        return self.sessions.get(sid)

    def expire(self) -> None:
        """Drop sessions that nobody has followed for idle_seconds, and rooms left idle."""
        for s in self.rooms.expire():
            s.stop()
            s.publish(ProtocolError("room_closed", f"room {s.room.code} closed: its presenter left").event())
            for box in list(s.room.members):
                s.room.leave(box)
            self.sessions.pop(s.id, None)
        now = time.monotonic()
        in_rooms = self.rooms.sessions()
        for sid, s in list(self.sessions.items()):
            if id(s) not in in_rooms and not s.subscribers and now - s.last_seen > self.idle_seconds:
                s.stop()
                del self.sessions[sid]

    async def reap(self, every: float = 30.0) -> None:
        while True:
            await asyncio.sleep(every)
            self.expire()

    def close(self) -> None:
        for s in self.sessions.values():
            s.stop()
        self.sessions.clear()
