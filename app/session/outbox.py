"""A subscriber's bounded outgoing queue.

Events are kept in order and never dropped while there is room; train frames coalesce (the
latest wins). When a slow subscriber lets the queue fill, in messages or in bytes, it is
emptied and the subscriber is marked to receive a fresh `state` instead, so memory stays
bounded and nobody waits.

Errors are kept apart from the queue, so that neither a flood of them nor a resync loses
one: while an error waits to be sent, more errors of the same code and request are counted
into it, and it goes out once with `count`, the number of rejected messages it stands for.

Where the connection can be written to directly, one Flusher per event loop writes every
outbox that has something new, on the loop's next turn; a connection's own task only sends
what its transport would not take at once (it waits for the transport to drain).
"""

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.protocol import encode

log = logging.getLogger("deltaflow.outbox")

MAX_ERROR_KINDS = 32  # pending errors told apart by (code, request); beyond, by code alone
# a Flusher's writes per turn of the event loop, each a send(2) of ~15 µs here: about 1 ms, then
# it yields, as a training slice does
WRITES_PER_TURN = 64


class Message:
    """One websocket message, encoded once for every subscriber, and framed once for all of
    them (`frame`)."""

    __slots__ = ("data", "binary", "_frame")

    def __init__(self, data: bytes, binary: bool = False) -> None:
        self.data, self.binary = data, binary
        self._frame: bytes | None = None

    def __repr__(self) -> str:
        return f"Message({self.data[:40]!r}{'...' if len(self.data) > 40 else ''}, binary={self.binary})"

    @property
    def frame(self) -> bytes:
        """The whole websocket frame a server sends (RFC 6455 section 5.2): FIN, the opcode
        (text 1, binary 2), the payload length in 7, 7+16 or 7+64 bits, no mask, the payload."""
        if self._frame is None:
            n = len(self.data)
            head = bytes([0x82 if self.binary else 0x81])
            if n < 126:
                head += bytes([n])
            elif n < 1 << 16:
                head += bytes([126]) + n.to_bytes(2, "big")
            else:
                head += bytes([127]) + n.to_bytes(8, "big")
            self._frame = head + self.data
        return self._frame


class Sent(dict[str, Any]):
    """An event encoded where it was computed (a replica process): its fields that the server
    reads (type, layer, an epoch's losses), and `message`, what is sent."""

    def __init__(self, fields: dict[str, Any], data: bytes) -> None:
        super().__init__(fields)
        self.message = Message(data)


class _Queue(deque[Message]):
    """A deque of messages that keeps the sum of their sizes."""

    nbytes = 0

    def append(self, m: Message) -> None:
        super().append(m)
        self.nbytes += len(m.data)

    def clear(self) -> None:
        super().clear()
        self.nbytes = 0


@dataclass
class _Error:
    event: dict[str, Any]
    at: int  # how many messages had been put before it: where it goes in the order
    count: int = 1

    def message(self) -> Message:
        event = {**self.event, "count": self.count} if self.count > 1 else self.event
        return Message(encode(event))


class Outbox:
    """Bounded: at most `limit` messages and `limit_bytes` bytes (or one larger message),
    plus one coalesced frame and the pending errors (at most one per code and request)."""

    def __init__(self, limit: int = 512, limit_bytes: int = 16 * 2**20) -> None:
        self.limit, self.limit_bytes = limit, limit_bytes
        self.queue = _Queue()
        self.frame: list[Message] | None = None  # the latest frame and its maps
        self.frame_at = 0  # how many messages had been put before it: where it goes in the order
        self.errors: dict[tuple[str, str | None], _Error] = {}
        self.puts = 0  # messages ever put; the queue holds the last len(queue) of them
        self.resync = False
        self.closed = False
        self.low_priority = False  # a room's viewer: its sends yield to others message by message
        self.page_maps = False  # it draws train frames' maps itself (/ws?maps=page): none are sent with them
        # writes a message to the connection, if it takes it without waiting (app/web/wire.py):
        # then the loop's Flusher writes what is put, and the sender's task is woken only to wait
        self.direct: Callable[[Message], bool] | None = None
        self.sending = False  # the sender holds messages it took and has not yet written
        self.carry: list[Message] = []  # taken by the Flusher, left for the sender: they go first
        self.flushing = False  # waiting in the Flusher's queue
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def put(self, msg: Message) -> None:
        q = self.queue
        if len(q) >= self.limit or (q and q.nbytes + len(msg.data) > self.limit_bytes):
            q.clear()
            self.resync = True
        q.append(msg)
        self.puts += 1
        self._changed()

    def put_frame(self, msgs: list[Message]) -> None:
        self.frame, self.frame_at = msgs, self.puts
        self._changed()

    def put_error(self, event: dict[str, Any], count: int = 1) -> None:
        """An `error` event, counted into a waiting one of the same code and request."""
        key = (event["code"], event.get("request"))
        if key not in self.errors and len(self.errors) >= MAX_ERROR_KINDS:
            key = (event["code"], None)  # codes are few; requests come from the client
        pending = self.errors.get(key)
        if pending is None:
            self.errors[key] = _Error(event, self.puts, count)
        else:
            pending.count += count
        self._changed()

    def _changed(self) -> None:
        if self.direct is not None and not self.sending and not self.closed:
            flusher().add(self)
        else:
            self._ready.set()
        if len(self.queue) >= self.limit // 2 or self.queue.nbytes >= self.limit_bytes // 2:
            self._room.clear()

    def __len__(self) -> int:
        return len(self.carry) + len(self.queue) + len(self.errors) + (1 if self.frame else 0)

    async def take(self) -> list[Message]:
        """Everything queued, in order, then the latest frame; waits while there is none."""
        while not self.carry and not self.queue and not self.frame and not self.errors:
            if self.closed:
                return []
            self._ready.clear()
            await self._ready.wait()
        return self.take_now()

    def take_now(self) -> list[Message]:
        """Everything queued, in order, the latest frame where it was put (a frame sent after
        later events would show older weights than theirs); [] when there is none."""
        out, self.carry = self.carry, []
        # errors and the frame each go where they were put among the events
        extra = [(e.at, [e.message()]) for e in sorted(self.errors.values(), key=lambda e: e.at)]
        if self.frame:
            extra.append((self.frame_at, self.frame))
            extra.sort(key=lambda x: x[0])
        if extra:
            first = self.puts - len(self.queue)  # the number of the oldest queued message
            i = 0
            for n, m in enumerate(self.queue, first):
                while i < len(extra) and extra[i][0] <= n:
                    out.extend(extra[i][1])
                    i += 1
                out.append(m)
            for _, msgs in extra[i:]:
                out.extend(msgs)
        else:
            out.extend(self.queue)
        self.errors.clear()
        self.queue.clear()
        self.frame = None
        self._room.set()
        return out

    def flush(self) -> int:
        """Write what waits straight to the connection while it takes it (see `direct`); what
        it does not take is left to the sender's task, in order. The messages written."""
        if self.direct is None or self.sending or self.closed:
            self._ready.set()
            return 0
        msgs = self.take_now()
        for k, m in enumerate(msgs):
            if not self.direct(m):
                self.carry = msgs[k:]
                self._ready.set()
                return k
        return len(msgs)

    async def room(self) -> None:
        """Wait until the queue is at most half full (back-pressure on a client's commands)."""
        await self._room.wait()

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self._room.set()


class Flusher:
    """Writes the outboxes that have something new to their connections, from one callback on
    the event loop's next turn, instead of waking one task per connection: for a room of 300
    viewers, a frame is 300 writes rather than 300 task switches and 300 writes. At most
    WRITES_PER_TURN per turn; the rest wait for the next turn, in the order they came, except
    that the outboxes of those who drive a session (not low_priority) go before every room
    viewer's, even one waiting since an earlier event."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.first: deque[Outbox] = deque()  # not low_priority
        self.boxes: deque[Outbox] = deque()  # room viewers
        self.scheduled = False

    def add(self, box: Outbox) -> None:
        if box.flushing:
            return
        box.flushing = True
        (self.boxes if box.low_priority else self.first).append(box)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.run)

    def run(self) -> None:
        self.scheduled = False
        writes = 0
        while (self.first or self.boxes) and writes < WRITES_PER_TURN:
            box = (self.first or self.boxes).popleft()
            box.flushing = False
            try:
                writes += max(1, box.flush())
            except Exception:  # that connection ends; the boxes behind it must still be written
                log.exception("writing to a connection failed")
                box.close()
        if self.first or self.boxes:
            self.scheduled = True
            self.loop.call_soon(self.run)


_flushers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Flusher]" = weakref.WeakKeyDictionary()


def flusher() -> Flusher:
    """The running loop's Flusher."""
    loop = asyncio.get_running_loop()
    f = _flushers.get(loop)
    if f is None:
        f = _flushers[loop] = Flusher(loop)
    return f
