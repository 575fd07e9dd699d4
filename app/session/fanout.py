"""A room whose session lives in another worker: the owner's side (Relay) and a viewer's (Mirror).

The owner worker publishes each event once, encoded as a viewer receives it, to the room's
channel; every other worker with members of the room subscribes once and puts those bytes
into its members' own bounded outboxes, with the same per-viewer budgets as the owner's
(a MirrorRoom is a Room). The wire format of one channel message is a kind byte, then each
websocket message as (binary flag: 1 byte, length: 4 bytes little-endian, bytes):

- E: events, in order (what Room.put and Room.publish queue);
- F: a train frame and its maps (coalesced per member, as at the owner);
- W: a viewer's welcome (state, dataset, curve start, maps), sent on request;
- R: a welcome after the run was replaced (`load`, a takeover): every member starts again;
- X: the room closed.

app/session/cluster.py carries these over Redis and keeps the room directory there.
"""

import asyncio
import struct
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from app.protocol import ProtocolError, encode
from app.session.outbox import Message, Outbox
from app.session.room import Hosted, Room

if TYPE_CHECKING:
    from app.session.cursor import Cursor

_HEAD = struct.Struct("<BI")
TAIL_MESSAGES = 64  # events kept after a welcome for new members; beyond, a fresh welcome is asked for
TAIL_BYTES = 4 * 2**20
_STATE = b'{"type":"state"'


def pack(kind: bytes, msgs: Sequence[Message]) -> bytes:
    """One channel message: `kind`, then each websocket message with its flag and length."""
    parts = [kind]
    for m in msgs:
        parts.append(_HEAD.pack(m.binary, len(m.data)))
        parts.append(m.data)
    return b"".join(parts)


def unpack(data: bytes) -> tuple[bytes, list[Message]]:
    """(kind, messages) of a channel message; ValueError if it is cut short."""
    kind, msgs, at = data[:1], [], 1
    view = memoryview(data)
    while at < len(data):
        if at + _HEAD.size > len(data):
            raise ValueError("a channel message ends inside a header")
        binary, n = _HEAD.unpack_from(data, at)
        at += _HEAD.size
        if at + n > len(data):
            raise ValueError("a channel message ends inside its data")
        msgs.append(Message(bytes(view[at : at + n]), bool(binary)))
        at += n
    return kind, msgs


class Relay:
    """The owner's side: hands each encoded event, frame or welcome to `send` (a publish)."""

    def __init__(self, send: Callable[[bytes], None], welcome: Callable[[], list[Message]]) -> None:
        self.send, self.viewer_welcome = send, welcome

    def put(self, msgs: Sequence[Message]) -> None:
        self.send(pack(b"E", msgs))

    def frame(self, msgs: Sequence[Message]) -> None:
        self.send(pack(b"F", msgs))

    def welcome(self, reset: bool = False) -> None:
        self.send(pack(b"R" if reset else b"W", self.viewer_welcome()))

    def closed(self) -> None:
        self.send(b"X")


def as_presenter(msg: Message, sid: str) -> Message:
    """A viewer's `state` rewritten for a presenter: with the session id, and its role."""
    if msg.binary or not msg.data.startswith(_STATE):
        return msg
    state = orjson.loads(msg.data)
    state["session"] = sid
    if isinstance(state.get("room"), dict):
        state["room"]["role"] = "presenter"
    return Message(encode(state))


class MirrorRoom(Room):
    """The members this worker holds of a room owned elsewhere; the owner counts heads."""

    def __init__(self, mirror: "Mirror", viewer_bytes_per_s: float) -> None:
        super().__init__(mirror.welcome_for, viewer_bytes_per_s)
        self.mirror = mirror
        self.total = 0  # viewers in every worker, as the directory last said

    def counted(self) -> None:
        """Head counts come from the owner, summed over the workers."""

    @property
    def viewers(self) -> int:
        return max(self.total, self.count("viewer"))

    @property
    def presenting(self) -> bool:
        return self.mirror.presenting or any(r == "presenter" for r in self.members.values())

    def send(self, box: Outbox, msgs: list[Message]) -> None:
        if self.members.get(box, "viewer") != "viewer":
            msgs = [as_presenter(m, self.mirror.id) for m in msgs]
        super().send(box, msgs)


class Mirror(Hosted):
    """Stands in for a Session owned by another worker: members attach here, commands and
    forks go to the owner through `cluster`, events come back through `receive`."""

    remote = True
    room: MirrorRoom

    def __init__(self, cluster: Any, code: str, sid: str, owner: str, token_hash: bytes | None) -> None:
        self.cluster, self.id, self.owner = cluster, sid, owner
        self.room = MirrorRoom(self, cluster.options.viewer_bytes_per_s)
        self.room.code, self.room.token_hash = code, token_hash
        self.lock = asyncio.Lock()
        self.last_seen = time.monotonic()
        self.presenting = False
        self.base: list[Message] | None = None  # the last welcome, then the events since
        self.tail: list[Message] = []
        self.tail_bytes = 0
        self.asked = 0.0  # when a welcome was last asked for
        self.ready = asyncio.Event()
        self.closed = False
        self.orphaned = 0.0  # since when its owner is dead and no worker could take it over

    @property
    def code(self) -> str:
        assert self.room.code is not None
        return self.room.code

    def welcome_for(self, box: Outbox | None) -> list[Message]:
        """The owner's last welcome and the events since: what a member joining now needs."""
        if self.base is None:
            return []  # it comes when the owner answers
        msgs = self.base + self.tail
        if box is not None and self.room.role(box) not in (None, "viewer"):
            msgs = [as_presenter(m, self.id) for m in msgs]
        return msgs

    # --- what the owner publishes ------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        kind, msgs = unpack(data)
        if kind == b"F":
            if self.base is not None:
                self.room.put_frame(msgs)
        elif kind == b"E":
            if self.base is None:
                return  # the welcome asked for comes after these, and includes them
            self.tail.extend(msgs)
            self.tail_bytes += sum(len(m.data) for m in msgs)
            self.room.put(msgs)
            if len(self.tail) > TAIL_MESSAGES or self.tail_bytes > TAIL_BYTES:
                self.ask_welcome()
        elif kind in (b"W", b"R"):
            first = self.base is None
            self.base, self.tail, self.tail_bytes = msgs, [], 0
            self.ready.set()
            if first or kind == b"R":
                for box in list(self.room.members):
                    self.room.send(box, self.welcome_for(box))
        elif kind == b"X":
            self.close("room_closed", f"room {self.code} closed: its presenter left")

    def ask_welcome(self, force: bool = False) -> None:
        """Ask the owner for a fresh welcome (at most once a second unless `force`)."""
        now = time.monotonic()
        if force or now - self.asked > 1.0:
            self.asked = now
            self.cluster.request_welcome(self)

    def resync(self) -> None:
        """Events may have been lost (Redis went away): start every member again."""
        self.base = None
        self.ready.clear()
        self.ask_welcome(force=True)

    def close(self, code: str, message: str) -> None:
        """Tell every member why, and disconnect them (the page reconnects where it can)."""
        self.closed = True
        event = ProtocolError(code, message).event()
        for box in list(self.room.members):
            box.put_error(event)
            self.room.leave(box)

    # --- what members ask for ----------------------------------------------------------------
    @property
    def interrupt(self) -> bool:
        return False

    @interrupt.setter
    def interrupt(self, value: bool) -> None:
        if value:  # a `pause` stops the owner's long command at its next slice
            self.cluster.interrupt(self)

    async def handle(self, cmd: Any) -> None:
        """Carry out a presenter's command at the owner; its error comes back as ProtocolError."""
        self.last_seen = time.monotonic()
        await self.cluster.forward(self, cmd)

    async def fetch(self) -> "Cursor":
        """The room's run at its current state, for a fork in this worker."""
        cursor: Cursor = await self.cluster.fetch_cursor(self)
        return cursor
