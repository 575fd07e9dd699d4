"""The unit of broadcast: one session's members, each with its own bounded outbox.

Every event is encoded once and the same bytes go to every member. A member that falls
behind is emptied and sent a fresh welcome; it never slows the others. A private session is
a room of one member; a classroom room has presenters and viewers.
"""

from collections.abc import Callable
from typing import Any, Literal

from app.protocol import encode
from app.session.outbox import Message, Outbox

Role = Literal["owner", "presenter", "viewer"]


class Room:
    """Members by outbox, with their role; `welcome` makes what a (re)joining member needs."""

    def __init__(self, welcome: Callable[[Outbox], list[Message]]) -> None:
        self.welcome = welcome
        self.members: dict[Outbox, Role] = {}

    def __len__(self) -> int:
        return len(self.members)

    def join(self, box: Outbox, role: Role = "owner") -> None:
        self.members[box] = role
        for msg in self.welcome(box):
            box.put(msg)

    def leave(self, box: Outbox) -> None:
        self.members.pop(box, None)
        box.close()

    def role(self, box: Outbox) -> Role | None:
        return self.members.get(box)

    def count(self, role: Role) -> int:
        return sum(1 for r in self.members.values() if r == role)

    def publish(self, *events: dict[str, Any]) -> None:
        """Encode each event once and queue it for every member."""
        self.put([Message(encode(e)) for e in events])

    def put(self, msgs: list[Message]) -> None:
        for box in list(self.members):
            for msg in msgs:
                box.put(msg)
            self._catch_up(box)

    def put_frame(self, msgs: list[Message]) -> None:
        """A train frame and its maps: each member keeps only the latest one not yet sent."""
        for box in list(self.members):
            box.put_frame(msgs)

    def _catch_up(self, box: Outbox) -> None:
        if box.resync:  # it fell behind: start it again from the whole state
            box.resync = False
            box.queue.clear()
            for msg in self.welcome(box):
                box.put(msg)
