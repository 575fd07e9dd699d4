"""Every live session by id, with idle expiry and eviction when full, the rooms open on
some of them, and (with a Saver) the sessions saved on disk."""

import asyncio
import logging
import secrets
import time
from typing import Any

from app import scenario as sc
from app.protocol import ProtocolError
from app.session import memory, persist, work
from app.session.breakpoints import reason
from app.session.cursor import Cursor
from app.session.directory import Directory
from app.session.scheduler import Scheduler
from app.session.session import Options, Session
from app.session.store import Row

log = logging.getLogger("deltaflow.registry")

ID_BYTES = 16  # 128 random bits: an id cannot be guessed, so it is the session's only key


class Registry:
    """Creates, finds, expires and evicts sessions; `rooms` finds a session by its join code.

    A session made for a connection that never sent a command is `fresh`: it is discarded as
    soon as no connection follows it, so opening and closing connections uses up nothing.
    When every slot is taken, the session followed by no connection (and open as no room)
    that was seen least recently makes room; only when none is left is a newcomer refused.

    With a `saver`, every session but a fresh one is saved: evicted and expired sessions come
    back from the store when asked for by id, and rooms by code.
    """

    def __init__(
        self,
        options: Options,
        default_preset: str,
        idle_seconds: float,
        max_sessions: int,
        rooms: Directory | None = None,
        saver: persist.Saver | None = None,
    ) -> None:
        self.options, self.default_preset = options, default_preset
        self.idle_seconds, self.max_sessions = idle_seconds, max_sessions
        self.sessions: dict[str, Session] = {}
        self.fresh: set[str] = set()
        self.scheduler = Scheduler()
        self.rooms = rooms if rooms is not None else Directory(max_rooms=50, idle_seconds=7200, max_viewers=500)
        self.saver = saver
        if saver is not None:
            self.rooms.stored = saver.rooms(time.time() - self.rooms.idle_seconds)
            self.rooms.restore = self.get

    def new_id(self) -> str:
        return secrets.token_urlsafe(ID_BYTES)

    def create(self, doc: dict[str, Any] | Cursor | None = None) -> Session | None:
        """A new session on `doc` (default: the default preset), or on a run already built; None
        when every session is in use, ProtocolError `server_full` when memory is over its budget."""
        memory.check(self.options.memory_bytes, "session")
        if not self._space():
            return None
        sid = self.new_id()
        if isinstance(doc, Cursor):
            s = Session(sid, None, self.options, self.scheduler, doc)
        else:
            s = Session(sid, doc if doc is not None else sc.preset(self.default_preset), self.options, self.scheduler)
        self.sessions[sid] = s
        self.fresh.add(sid)
        return s

    def fork(self, s: Session) -> Session | None:
        """A private copy of `s` at its current state; None when the server is full (and
        ProtocolError `server_full` when memory is over its budget)."""
        memory.check(self.options.memory_bytes, "fork")
        if not self._space():
            return None
        copy = s.fork(self.new_id())
        self.sessions[copy.id] = copy
        return copy

    def adopt(self, cursor: Cursor) -> Session | None:
        """A private session on `cursor` (a fork of a room owned by another worker); as fork()."""
        memory.check(self.options.memory_bytes, "fork")
        if not self._space():
            return None
        s = Session(self.new_id(), None, self.options, self.scheduler, cursor)
        self.sessions[s.id] = s
        return s

    def drop_copy(self, s: Session) -> None:
        """Another worker owns `s`'s room: let go of this copy unsaved; its members reconnect."""
        if s.room.code is not None and self.rooms.rooms.get(s.room.code) is s:
            del self.rooms.rooms[s.room.code]
        s.stop()
        for box in list(s.room.members):
            s.room.leave(box)
        if self.sessions.get(s.id) is s:
            del self.sessions[s.id]
        self.fresh.discard(s.id)
        if self.saver is not None:
            self.saver.forget(s.id)

    def _space(self) -> bool:
        self.expire()
        return len(self.sessions) < self.max_sessions or self._evict()

    def get(self, sid: str) -> Session | None:
        """The session `sid`: in memory, else brought back from the store (None when it is in
        neither, or cannot come back now: no slot, or memory over its budget)."""
        s = self.sessions.get(sid)
        if s is not None or self.saver is None:
            return s
        row = self.saver.load(sid)
        if row is None or memory.over(self.options.memory_bytes):
            return None
        return self._install(row, self._rebuild(row))

    async def find(self, sid: str) -> Session | None:
        """As get(), reading and rebuilding the session off the event loop."""
        s = self.sessions.get(sid)
        if s is not None or self.saver is None:
            return s
        row = await asyncio.wrap_future(self.saver.read(sid))
        if row is None or memory.over(self.options.memory_bytes):
            return None
        cursor = await work.in_thread(self._rebuild, row)
        return self.sessions.get(sid) or self._install(row, cursor)  # another connection may have been quicker

    def _rebuild(self, row: Row) -> Cursor | None:
        try:
            return persist.rebuild(row, self.options)
        except Exception:  # a damaged row: the session is lost, not the server
            log.warning("a stored session could not be read back", exc_info=True)
            return None

    def _install(self, row: Row, cursor: Cursor | None) -> Session | None:
        """Register a session brought back from the store, with its room if that is still open."""
        assert self.saver is not None
        if cursor is None or not self._space():
            return None
        s = Session(row.id, None, self.options, self.scheduler, cursor)
        s.paused_reason = reason("restored", "Restored from the server's saved copy.", cursor.step_shown())
        code = row.room_code
        if code is not None and row.token_hash is not None and self.rooms.stored.get(code) == row.id:
            del self.rooms.stored[code]
            s.room.code, s.room.token_hash = code, row.token_hash
            self.rooms.rooms[code] = s
        self.sessions[row.id] = s
        self.saver.restored(s)
        if code is not None and s.room.code is None:
            s.dirty = True  # its room closed meanwhile: save it without
        return s

    def persistent(self, s: Session) -> bool:
        """Whether `s` is saved: every session but a fresh one, and every room."""
        return s.id not in self.fresh or id(s) in self.rooms.sessions()

    def save(self, s: Session) -> None:
        if self.saver is not None and self.persistent(s):
            self.saver.save(s)

    def used(self, s: Session) -> None:
        """A command reached `s`: keep it when its connections close."""
        if s.id in self.fresh:
            self.fresh.discard(s.id)
            s.dirty = True

    def release(self, s: Session) -> None:
        """A connection of `s` closed: drop `s` if it is fresh and no one else follows it; save
        it when that was its last connection."""
        if s.subscribers or self.sessions.get(s.id) is not s:  # another worker's, or let go of
            return
        if s.id in self.fresh and id(s) not in self.rooms.sessions():
            self._drop(s.id)
        else:
            self.save(s)

    def _evict(self) -> bool:
        """Drop the least recently seen session that no connection follows; False if none."""
        in_rooms = self.rooms.sessions()
        detached = [s for s in self.sessions.values() if not s.subscribers and id(s) not in in_rooms]
        if not detached:
            return False
        self._drop(min(detached, key=lambda s: s.last_seen).id, save=True)
        return True

    def _drop(self, sid: str, save: bool = False) -> None:
        s = self.sessions.pop(sid, None)
        if s is not None:
            s.stop()
            if save:  # it comes back from the store when asked for
                self.save(s)
        self.fresh.discard(sid)
        if self.saver is not None:
            self.saver.forget(sid)

    def expire(self) -> None:
        """Drop sessions that nobody has followed for idle_seconds, and rooms left idle."""
        for s in self.rooms.expire():
            s.stop()
            s.publish(ProtocolError("room_closed", f"room {s.room.code} closed: its presenter left").event())
            for box in list(s.room.members):
                s.room.leave(box)
            s.room.code = s.room.token_hash = None  # saved as a private session: the room is gone
            self._drop(s.id, save=True)
        now = time.monotonic()
        in_rooms = self.rooms.sessions()
        for sid, s in list(self.sessions.items()):
            if id(s) not in in_rooms and not s.subscribers and now - s.last_seen > self.idle_seconds:
                self._drop(sid, save=True)

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
            memory.release_soon()

    def close(self) -> None:
        """Stop every session; with a saver, save them all and wait until they are written."""
        for s in self.sessions.values():
            s.stop()
            self.save(s)
        if self.saver is not None:
            self.saver.close()
        self.sessions.clear()
        self.fresh.clear()
