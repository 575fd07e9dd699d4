"""Every live session by id, with idle expiry."""

import asyncio
import secrets
import time

from app import scenario as sc
from app.session.scheduler import Scheduler
from app.session.session import Options, Session


class Registry:
    """Creates, finds and expires sessions."""

    def __init__(self, options: Options, default_preset: str, idle_seconds: float, max_sessions: int) -> None:
        self.options, self.default_preset = options, default_preset
        self.idle_seconds, self.max_sessions = idle_seconds, max_sessions
        self.sessions: dict[str, Session] = {}
        self.scheduler = Scheduler()

    def create(self) -> Session | None:
        """A new session on the default preset; None when the server is full."""
        self.expire()
        if len(self.sessions) >= self.max_sessions:
            return None
        sid = secrets.token_urlsafe(12)
        s = Session(sid, sc.preset(self.default_preset), self.options, self.scheduler)
        self.sessions[sid] = s
        return s

    def get(self, sid: str) -> Session | None:
        return self.sessions.get(sid)

    def expire(self) -> None:
        """Drop sessions that nobody has followed for idle_seconds."""
        now = time.monotonic()
        for sid, s in list(self.sessions.items()):
            if not s.subscribers and now - s.last_seen > self.idle_seconds:
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
