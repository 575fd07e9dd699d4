"""Every live session by id, with idle expiry and eviction when full, and the rooms open on
some of them."""

import asyncio
import secrets
import time
from typing import Any

from app import scenario as sc
from app.protocol import ProtocolError
from app.session.directory import Directory
from app.session.scheduler import Scheduler
from app.session.session import Options, Session

ID_BYTES = 16  # 128 random bits: an id cannot be guessed, so it is the session's only key


class Registry:
    """Creates, finds, expires and evicts sessions; `rooms` finds a session by its join code.

    A session made for a connection that never sent a command is `fresh`: it is discarded as
    soon as no connection follows it, so opening and closing connections uses up nothing.
    When every slot is taken, the session followed by no connection (and open as no room)
    that was seen least recently makes room; only when none is left is a newcomer refused.
    """

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
        self.fresh: set[str] = set()
        self.scheduler = Scheduler()
        self.rooms = rooms if rooms is not None else Directory(max_rooms=50, idle_seconds=7200, max_viewers=500)

    def new_id(self) -> str:
        return secrets.token_urlsafe(ID_BYTES)

    def create(self, doc: dict[str, Any] | None = None) -> Session | None:
        """A new session on `doc` (default: the default preset); None when the server is full."""
        if not self._space():
            return None
        sid = self.new_id()
        s = Session(sid, doc if doc is not None else sc.preset(self.default_preset), self.options, self.scheduler)
        self.sessions[sid] = s
        self.fresh.add(sid)
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
        return len(self.sessions) < self.max_sessions or self._evict()

    def get(self, sid: str) -> Session | None:
        return self.sessions.get(sid)

    def used(self, s: Session) -> None:
        """A command reached `s`: keep it when its connections close."""
        self.fresh.discard(s.id)

    def release(self, s: Session) -> None:
        """A connection of `s` closed: drop `s` if it is fresh and no one else follows it."""
        if s.id in self.fresh and not s.subscribers and id(s) not in self.rooms.sessions():
            self._drop(s.id)

    def _evict(self) -> bool:
        """Drop the least recently seen session that no connection follows; False if none."""
        in_rooms = self.rooms.sessions()
        detached = [s for s in self.sessions.values() if not s.subscribers and id(s) not in in_rooms]
        if not detached:
            return False
        self._drop(min(detached, key=lambda s: s.last_seen).id)
        return True

    def _drop(self, sid: str) -> None:
        s = self.sessions.pop(sid, None)
        self.fresh.discard(sid)
        if s is not None:
            s.stop()

    def expire(self) -> None:
        """Drop sessions that nobody has followed for idle_seconds, and rooms left idle."""
        for s in self.rooms.expire():
            s.stop()
            s.publish(ProtocolError("room_closed", f"room {s.room.code} closed: its presenter left").event())
            for box in list(s.room.members):
                s.room.leave(box)
            self._drop(s.id)
        now = time.monotonic()
        in_rooms = self.rooms.sessions()
        for sid, s in list(self.sessions.items()):
            if id(s) not in in_rooms and not s.subscribers and now - s.last_seen > self.idle_seconds:
                self._drop(sid)

    def counts(self) -> dict[str, int]:
        """Sessions, those followed by a connection, and connections."""
        attached = [len(s.subscribers) for s in self.sessions.values() if s.subscribers]
        return {
            "sessions": len(self.sessions),
            "max_sessions": self.max_sessions,
            "attached_sessions": len(attached),
            "connections": sum(attached),
        }

    async def reap(self, every: float = 30.0) -> None:
        while True:
            await asyncio.sleep(every)
            self.expire()

    def close(self) -> None:
        for s in self.sessions.values():
            s.stop()
        self.sessions.clear()
        self.fresh.clear()
