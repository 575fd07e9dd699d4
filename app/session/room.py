"""The unit of broadcast: one session's members, each with its own bounded outbox.

Every event is encoded once and the same bytes go to every member (a `state` once per role,
since it tells the member its role). A member that falls behind is emptied and sent a fresh
welcome; it never slows the others. A private session is a room of one member, its owner; a
classroom room has a join code, presenters and viewers.
"""

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any, Literal

from app.protocol import encode
from app.session.outbox import Message, Outbox, Sent

Role = Literal["owner", "presenter", "viewer"]
# no 0/O, 1/I/L: a code read off a projector is typed without guessing
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
COUNT_INTERVAL = 0.5  # `room` events at most 2 per second
MAPS_AT_LEAST_EVERY = 2.0  # seconds: a viewer's maps wait for its budget at most this long


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str) -> str:
    """Codes are case-insensitive and typed with stray spaces or dashes."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Budget:
    """A token bucket of bytes per second: how much of the train stream a viewer may be sent."""

    def __init__(self, rate: float) -> None:
        self.rate, self.tokens, self.at = rate, rate, time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def take(self, n: int) -> bool:
        """Spend n bytes if the bucket allows; a message larger than the rate waits for a full bucket."""
        self._refill()
        if self.tokens < min(n, self.rate):
            return False
        self.tokens -= n  # may go below zero: the average stays within the rate
        return True

    def charge(self, n: int) -> None:
        self._refill()
        self.tokens -= n


class Room:
    """Members by outbox, with their role; `welcome` makes what a (re)joining member needs."""

    def __init__(self, welcome: Callable[[Outbox], list[Message]], viewer_bytes_per_s: float = 40_000) -> None:
        self.welcome = welcome
        self.members: dict[Outbox, Role] = {}
        self.code: str | None = None
        self.token_hash: bytes | None = None
        self.viewer_bytes_per_s = viewer_bytes_per_s
        self.budgets: dict[Outbox, Budget] = {}
        self._order: list[Outbox] | None = None  # presenters first: their events leave first
        self.held: dict[Outbox, tuple[Message, float]] = {}  # a viewer's newest maps, waiting for budget
        self.last_presenter = time.monotonic()  # a room with no presenter expires after its idle time
        self._count_at = 0.0
        self._count_due = False
        # with Redis (app/session/fanout.py): what other workers' members see, and who they are
        self.relay: Any = None  # forwards each encoded event once to the room's channel
        self.elsewhere = 0  # viewers connected to other workers
        self.presenters_elsewhere = 0

    def __len__(self) -> int:
        return len(self.members)

    def order(self) -> list[Outbox]:
        """Members with those who drive the session first, so a presenter never waits on viewers."""
        if self._order is None:
            self._order = sorted(self.members, key=lambda b: self.members[b] == "viewer")
        return self._order

    # --- becoming a classroom room -------------------------------------------------------------
    def open(self, code: str) -> str:
        """Give this room a join code; its owners become presenters. Returns the presenter token."""
        token = secrets.token_urlsafe(24)  # 192 bits
        self.code, self.token_hash = code, token_hash(token)
        for box, role in self.members.items():
            if role == "owner":
                self.members[box] = "presenter"
        self.last_presenter = time.monotonic()
        return token

    def check(self, token: str) -> bool:
        return self.token_hash is not None and hmac.compare_digest(self.token_hash, token_hash(token))

    # --- members ---------------------------------------------------------------------------------
    def join(self, box: Outbox, role: Role = "owner") -> None:
        if self.code is not None and role == "owner":
            role = "presenter"  # holding the session id of a room is holding its control
        self.members[box] = role
        self._order = None
        box.low_priority = role == "viewer"
        if role == "viewer":
            self.budgets[box] = Budget(self.viewer_bytes_per_s)
        for msg in self.welcome(box):
            box.put(msg)
        self.counted()

    def leave(self, box: Outbox, close: bool = True) -> None:
        """Remove a member; its outbox is closed unless the connection moves to another session."""
        role = self.members.pop(box, None)
        self._order = None
        self.budgets.pop(box, None)
        self.held.pop(box, None)
        if close:
            box.close()
        if role == "presenter":
            self.last_presenter = time.monotonic()
        if role is not None:
            self.counted()

    def promote(self, box: Outbox) -> None:
        self.members[box] = "presenter"
        self._order = None
        box.low_priority = False
        self.budgets.pop(box, None)
        for msg in self.welcome(box):
            box.put(msg)
        self.counted()

    def role(self, box: Outbox) -> Role | None:
        return self.members.get(box)

    def count(self, role: Role) -> int:
        return sum(1 for r in self.members.values() if r == role)

    def info(self, role: Role) -> dict[str, Any] | None:
        """The `room` field of a member's `state`: null outside a classroom room."""
        if self.code is None:
            return None
        return {"code": self.code, "role": "viewer" if role == "viewer" else "presenter", "viewers": self.viewers}

    def state_for(self, state: dict[str, Any], role: Role) -> dict[str, Any]:
        """A member's `state`: with its room, and without the session id for a viewer, since
        the id grants control of the session."""
        out = {**state, "room": self.info(role)}
        if role == "viewer":
            out["session"] = None
        return out

    @property
    def viewers(self) -> int:
        return self.count("viewer") + self.elsewhere

    @property
    def presenting(self) -> bool:
        return self.presenters_elsewhere > 0 or any(r == "presenter" for r in self.members.values())

    def room_event(self) -> dict[str, Any]:
        return {"type": "room", "code": self.code, "viewers": self.viewers, "presenter": self.presenting}

    def counted(self) -> None:
        """The head count changed: tell every member, at most every COUNT_INTERVAL seconds."""
        if self.code is None or self._count_due:
            return
        self._count_due = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a unit test): say it now
            self._send_count()
            return
        wait = max(0.0, self._count_at + COUNT_INTERVAL - time.monotonic())
        loop.call_later(wait, self._send_count)

    def _send_count(self) -> None:
        self._count_due = False
        self._count_at = time.monotonic()
        if self.code is not None:
            self.publish(self.room_event())

    # --- sending ---------------------------------------------------------------------------------
    def publish(self, *events: dict[str, Any] | Message) -> None:
        """Encode each event once (a state once per role) and queue it for every member; a
        Message is already encoded (large trace events are, in a worker thread)."""

        def one(e: dict[str, Any] | Message, role: Role | None) -> Message:
            if isinstance(e, Message):
                return e
            if isinstance(e, Sent):
                return e.message
            return Message(encode(self.state_for(e, role) if role and e["type"] == "state" else e))

        if not any(isinstance(e, dict) and e["type"] == "state" for e in events):
            self.put([one(e, None) for e in events])
            return
        by_role: dict[Role, list[Message]] = {}
        roles: set[Role] = set(self.members.values())
        if self.relay is not None:
            roles.add("viewer")
        for role in roles:
            by_role[role] = [one(e, role) for e in events]
        for box in self.order():
            self.send(box, by_role[self.members[box]])
        if self.relay is not None:  # other workers get what a viewer gets
            self.relay.put(by_role["viewer"])

    def put(self, msgs: list[Message]) -> None:
        for box in self.order():
            self.send(box, msgs)
        if self.relay is not None:
            self.relay.put(msgs)

    def send(self, box: Outbox, msgs: list[Message]) -> None:
        budget = self.budgets.get(box)
        for msg in msgs:
            if msg.binary and budget is not None:
                self._maps_to(box, budget, msg)
            else:
                if budget is not None:
                    budget.charge(len(msg.data))
                box.put(msg)
        if box.resync:  # it fell behind: start it again from the whole state
            box.resync = False
            box.queue.clear()
            for msg in self.welcome(box):
                box.put(msg)

    @property
    def server_maps(self) -> bool:
        """Whether a train frame's maps are wanted: by a member that does not draw them itself,
        or by other workers' members, whom this one does not know."""
        return self.relay is not None or any(not box.page_maps for box in self.members)

    def put_frame(self, msgs: list[Message]) -> None:
        """A train frame and its maps: each member keeps only the latest one not yet sent.

        A viewer's stream is capped in bytes per second: every frame goes, and its maps when
        the viewer's budget allows (a school's Wi-Fi carries 300 viewers). A member that draws
        the maps itself (`page_maps`) gets the frame without them.
        """
        if self.relay is not None:
            self.relay.frame(msgs)
        text = [m for m in msgs if not m.binary]  # for members that draw the maps
        for box in self.order():
            msgs_for = text if box.page_maps else msgs
            budget = self.budgets.get(box)
            if budget is None:
                box.put_frame(msgs_for)
                continue
            budget.charge(len(msgs_for[0].data))
            box.put_frame(msgs_for[:1])
            for m in msgs_for[1:]:
                self._maps_to(box, budget, m)

    def _maps_to(self, box: Outbox, budget: Budget, msg: Message) -> None:
        """Maps are a picture of the latest state: a viewer gets the newest set its budget
        allows, and one held back goes out as soon as it does (or after MAPS_AT_LEAST_EVERY)."""
        first = self.held.get(box, (msg, time.monotonic()))[1]
        if budget.take(len(msg.data)):
            self.held.pop(box, None)
            box.put(msg)
            return
        due = box not in self.held
        self.held[box] = (msg, first)
        if due:
            wait = min(MAPS_AT_LEAST_EVERY, max(0.0, (min(len(msg.data), budget.rate) - budget.tokens) / budget.rate))
            try:
                asyncio.get_running_loop().call_later(wait + 0.001, self._release, box)
            except RuntimeError:  # no loop (a unit test): send it now
                self._release(box, force=True)

    def _release(self, box: Outbox, force: bool = False) -> None:
        held = self.held.get(box)
        budget = self.budgets.get(box)
        if held is None or budget is None:
            return
        msg, since = held
        if force or budget.take(len(msg.data)) or time.monotonic() - since >= MAPS_AT_LEAST_EVERY:
            if force or time.monotonic() - since >= MAPS_AT_LEAST_EVERY:
                budget.charge(len(msg.data))
            del self.held[box]
            box.put(msg)
            return
        wait = min(MAPS_AT_LEAST_EVERY, max(0.0, (min(len(msg.data), budget.rate) - budget.tokens) / budget.rate))
        asyncio.get_running_loop().call_later(wait + 0.001, self._release, box)


class Hosted:
    """Members attach to and detach from `room`: what a Session and a Mirror (a room owned by
    another worker, app/session/fanout.py) share."""

    room: Room
    last_seen: float  # time.monotonic() of the last command or departure

    @property
    def subscribers(self) -> dict[Outbox, Role]:
        return self.room.members

    def attach(self, box: Outbox, role: Role = "owner") -> None:
        self.room.join(box, role)

    def detach(self, box: Outbox, close: bool = True) -> None:
        self.room.leave(box, close)
        self.last_seen = time.monotonic()
