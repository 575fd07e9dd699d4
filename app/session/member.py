"""One connection's place: the session it drives or follows, its role there, and the commands
that move it between sessions (claim, fork, follow) or change nothing (ping)."""

from typing import Any, cast

from app.protocol import VIEWER_COMMANDS, ProtocolError, encode
from app.session.outbox import Message, Outbox
from app.session.registry import Registry
from app.session.room import Role
from app.session.session import Session


class Member:
    """A connection's outbox and where it stands; `handle` runs its commands with role checks."""

    def __init__(self, registry: Registry, box: Outbox) -> None:
        self.registry, self.box = registry, box
        self.session: Session | None = None

    @property
    def role(self) -> Role | None:
        return None if self.session is None else self.session.room.role(self.box)

    def join(self, s: Session, role: Role = "owner") -> None:
        """Follow or drive `s`; a room that is full refuses a viewer (ProtocolError)."""
        if role == "viewer" and s.room.viewers >= self.registry.rooms.max_viewers:
            raise ProtocolError(
                "room_full", f"room {s.room.code} has {s.room.viewers} viewers, its limit; ask the presenter", "follow"
            )
        if self.session is not None:
            self.session.detach(self.box, close=False)
        self.session = s
        s.attach(self.box, role)

    def leave(self) -> None:
        if self.session is not None:
            self.session.detach(self.box)
            self.session = None

    async def handle(self, cmd: Any) -> None:
        """Carry out one command; a ProtocolError changes nothing."""
        s = self.session
        assert s is not None
        kind = cmd.type
        if kind == "ping":
            self.box.put(Message(encode({"type": "pong"})))
        elif kind == "claim":
            if s.room.code is None or not s.room.check(cmd.token):
                raise ProtocolError("forbidden", "claim: that presenter token is not this room's", "claim")
            s.room.promote(self.box)
        elif kind == "follow":
            room = await self.registry.rooms.find(cmd.room)
            if room is None:
                raise ProtocolError("unknown_room", f"follow.room: no open room {cmd.room!r}", "follow")
            if room is s:  # already here: start again from its live state
                s.room.send(self.box, s.welcome_for(self.box))
            else:
                self.join(room, "viewer")
        elif kind == "fork":
            if getattr(s, "remote", False):  # a room owned by another worker: its state comes here
                copy = self.registry.adopt(await cast(Any, s).fetch())
            else:
                async with s.lock:  # between two commands, never in the middle of one
                    copy = self.registry.fork(s)
            if copy is None:
                raise ProtocolError("busy", "fork: the server has no room for another session", "fork")
            self.join(copy)
        else:
            if self.role == "viewer" and kind not in VIEWER_COMMANDS:
                raise ProtocolError(
                    "read_only",
                    f"{kind}: you are following room {s.room.code}, which only its presenter changes; "
                    "explore on your own (fork) to try it yourself",
                    kind,
                )
            if kind == "answer":
                cmd._box = self.box  # answers are counted per member
            async with s.lock:
                await s.handle(cmd)
