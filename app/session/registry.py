"""Every live session by id, with idle expiry and eviction when full."""

import asyncio
import secrets
import time

from app import scenario as sc
from app.session.scheduler import Scheduler
from app.session.session import Options, Session

ID_BYTES = 16  # 128 random bits: an id cannot be guessed, so it is the session's only key


class Registry:
    """Creates, finds, expires and evicts sessions.

    A session made for a connection that never sent a command is `fresh`: it is discarded as
    soon as no connection follows it, so opening and closing connections uses up nothing.
    When every slot is taken, the session followed by no connection and seen least recently
    makes room; only when each one has a connection is a newcomer refused.
    """

    def __init__(self, options: Options, default_preset: str, idle_seconds: float, max_sessions: int) -> None:
        self.options, self.default_preset = options, default_preset
        self.idle_seconds, self.max_sessions = idle_seconds, max_sessions
        self.sessions: dict[str, Session] = {}
        self.fresh: set[str] = set()
        self.scheduler = Scheduler()

    def create(self) -> Session | None:
        """A new session on the default preset; None when every session has a connection."""
        self.expire()
        if len(self.sessions) >= self.max_sessions and not self._evict():
            return None
        sid = secrets.token_urlsafe(ID_BYTES)
        s = Session(sid, sc.preset(self.default_preset), self.options, self.scheduler)
        self.sessions[sid] = s
        self.fresh.add(sid)
        return s

    def get(self, sid: str) -> Session | None:
        return self.sessions.get(sid)

    def used(self, s: Session) -> None:
        """A command reached `s`: keep it when its connections close."""
        self.fresh.discard(s.id)

    def release(self, s: Session) -> None:
        """A connection of `s` closed: drop `s` if it is fresh and no one else follows it."""
        if s.id in self.fresh and not s.subscribers:
            self._drop(s.id)

    def _evict(self) -> bool:
        """Drop the least recently seen session that no connection follows; False if none."""
        detached = [s for s in self.sessions.values() if not s.subscribers]
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
        """Drop sessions that nobody has followed for idle_seconds."""
        now = time.monotonic()
        for sid, s in list(self.sessions.items()):
            if not s.subscribers and now - s.last_seen > self.idle_seconds:
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
