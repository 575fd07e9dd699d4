"""The per-subscriber queue: ordered, bounded in messages and bytes, frames and errors coalesced."""

import asyncio
import json

from app import scenario as sc
from app.session.outbox import MAX_ERROR_KINDS, WRITES_PER_TURN, Message, Outbox
from app.session.scheduler import Scheduler
from app.session.session import Options, Session


def msg(i: int) -> Message:
    return Message(str(i).encode())


def test_events_keep_their_order_and_frames_coalesce() -> None:
    box = Outbox(limit=100)
    box.put(msg(1))
    box.put_frame([msg(10), Message(b"maps10", True)])
    box.put(msg(2))
    box.put_frame([msg(11), Message(b"maps11", True)])
    got = asyncio.run(box.take())
    assert [m.data for m in got] == [b"1", b"2", b"11", b"maps11"]  # the latest frame only
    assert len(box) == 0


def test_a_full_queue_is_emptied_and_marked_for_resync() -> None:
    box = Outbox(limit=16)
    for i in range(16):
        box.put(msg(i))
    assert not box.resync and len(box) == 16
    box.put(msg(99))
    assert box.resync and len(box) == 1  # bounded: the backlog is dropped for a fresh state


def test_room_waits_until_half_drained() -> None:
    async def scenario() -> list[str]:
        box = Outbox(limit=16)
        for i in range(8):
            box.put(msg(i))
        order: list[str] = []

        async def waiter() -> None:
            await box.room()
            order.append("room")

        task = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        order.append("take")
        await box.take()
        await task
        return order

    assert asyncio.run(scenario()) == ["take", "room"]


def test_close_wakes_a_waiting_sender() -> None:
    async def scenario() -> list[Message]:
        box = Outbox()
        task = asyncio.create_task(box.take())
        await asyncio.sleep(0)
        box.close()
        return await task

    assert asyncio.run(scenario()) == []


def err(code: str, request: str | None = None, message: str = "no") -> dict:
    return {"type": "error", "code": code, "message": message, "request": request}


def events(msgs: list[Message]) -> list[dict]:
    return [json.loads(m.data) for m in msgs]


def test_a_queue_over_its_bytes_resyncs_but_one_large_message_fits() -> None:
    box = Outbox(limit=100, limit_bytes=1000)
    box.put(Message(b"x" * 5000))  # alone: queued whole
    assert not box.resync and box.queue.nbytes == 5000
    asyncio.run(box.take())
    assert box.queue.nbytes == 0
    for _ in range(9):
        box.put(Message(b"y" * 100))
    assert not box.resync and box.queue.nbytes == 900
    box.put(Message(b"z" * 101))  # 1001 bytes: over
    assert box.resync and [m.data for m in box.queue] == [b"z" * 101]


def test_bytes_hold_back_commands_at_half() -> None:
    box = Outbox(limit=100, limit_bytes=1000)
    box.put(Message(b"y" * 499))
    assert box._room.is_set()
    box.put(Message(b"y"))
    assert not box._room.is_set()


def test_errors_coalesce_by_code_and_request_with_a_count() -> None:
    box = Outbox()
    for _ in range(5):
        box.put_error(err("invalid_json", message="first"))
    box.put_error(err("invalid_command", "step"))
    box.put_error(err("invalid_command", "seek"))
    box.put_error(err("invalid_command", "step", "later"))
    got = events(asyncio.run(box.take()))
    assert got == [
        {**err("invalid_json", message="first"), "count": 5},
        {**err("invalid_command", "step"), "count": 2},
        err("invalid_command", "seek"),  # one message: no count
    ]
    box.put_error(err("invalid_json"))
    assert events(asyncio.run(box.take())) == [err("invalid_json")]  # sent: the next one starts anew


def test_errors_keep_their_place_among_events() -> None:
    box = Outbox()
    box.put(msg(1))
    box.put_error(err("a"))
    box.put(msg(2))
    box.put_error(err("b"))
    box.put_error(err("a"))
    out = [m.data for m in asyncio.run(box.take())]
    assert out[0] == b"1" and out[2] == b"2"
    assert json.loads(out[1])["code"] == "a" and json.loads(out[1])["count"] == 2
    assert json.loads(out[3])["code"] == "b"


def test_many_kinds_of_error_stay_bounded_and_counted() -> None:
    box = Outbox()
    for i in range(1000):
        box.put_error(err("unknown_type", f"kind{i}"))
    assert len(box.errors) <= MAX_ERROR_KINDS + 1
    got = events(asyncio.run(box.take()))
    assert sum(e.get("count", 1) for e in got) == 1000


def test_errors_survive_a_resync() -> None:
    box = Outbox(limit=16)
    box.put_error(err("busy", "step"), count=3)
    for i in range(40):  # twice over the limit
        box.put(msg(i))
    box.queue.clear()  # as a session does before it puts a fresh welcome
    box.put(msg(100))
    got = [m.data for m in asyncio.run(box.take())]
    assert json.loads(got[0]) == {**err("busy", "step"), "count": 3} and got[1:] == [b"100"]


def test_a_session_resync_keeps_the_pending_errors() -> None:
    async def scenario() -> list[dict]:
        s = Session("s", sc.preset("worked-example"), Options(), Scheduler())
        box = Outbox(limit=16)
        s.attach(box)
        box.put_error(err("invalid_command", "seek"), count=2)
        for _ in range(20):  # overflows: the backlog gives way to a fresh welcome
            s.publish({"type": "epoch", "epoch": 0})
        return events([m for m in await box.take() if not m.binary])

    got = asyncio.run(scenario())
    assert got[0] == {**err("invalid_command", "seek"), "count": 2}
    assert [e["type"] for e in got[1:3]] == ["state", "dataset"]


class Wire:
    """A connection that takes writes while `open`: what Outbox.direct writes to."""

    def __init__(self) -> None:
        self.open = True
        self.written: list[bytes] = []

    def __call__(self, m: Message) -> bool:
        if self.open:
            self.written.append(m.data)
        return self.open


def test_the_flusher_writes_on_the_next_turn_and_a_busy_outbox_keeps_the_order() -> None:
    async def run() -> None:
        box, wire = Outbox(limit=100), Wire()
        box.direct = wire
        box.put(msg(1))
        box.put_frame([msg(10), Message(b"maps10", True)])
        box.put_frame([msg(11), Message(b"maps11", True)])  # coalesced before the turn came
        assert wire.written == []  # not inside the publisher's call
        await asyncio.sleep(0)
        assert wire.written == [b"1", b"11", b"maps11"] and len(box) == 0
        wire.open = False  # the connection's buffer is full
        box.put(msg(2))
        box.put(msg(3))
        await asyncio.sleep(0)
        assert box.carry and len(box) == 2  # left to the sender, which waits for the connection
        wire.open = True
        box.put(msg(4))  # not before 2 and 3, which go first once the connection takes them
        await asyncio.sleep(0)
        assert wire.written == [b"1", b"11", b"maps11", b"2", b"3", b"4"] and len(box) == 0
        wire.open = False
        box.put(msg(6))
        await asyncio.sleep(0)
        assert [m.data for m in await box.take()] == [b"6"]  # the sender's, as the flusher left it
        wire.open = True
        box.sending = True  # the sender still holds what it took
        box.put(msg(5))
        await asyncio.sleep(0)
        assert len(wire.written) == 6 and len(box) == 1

    asyncio.run(run())


def test_the_flusher_writes_a_bounded_number_per_turn_in_order() -> None:
    async def run() -> None:
        wire = Wire()
        boxes = [Outbox(limit=100) for _ in range(WRITES_PER_TURN + 10)]
        for k, box in enumerate(boxes):
            box.direct = wire
            box.put(msg(k))
        await asyncio.sleep(0)
        assert wire.written == [str(k).encode() for k in range(WRITES_PER_TURN)]  # then it yields
        await asyncio.sleep(0)
        assert wire.written == [str(k).encode() for k in range(len(boxes))]

    asyncio.run(run())


def test_errors_keep_their_place_when_flushed() -> None:
    async def run() -> None:
        box, wire = Outbox(limit=100), Wire()
        box.direct = wire
        box.put(msg(1))
        box.put_error({"type": "error", "code": "invalid_command", "message": "x"})
        box.put(msg(2))
        await asyncio.sleep(0)
        assert [w[:10] for w in wire.written] == [b"1", b'{"type":"e', b"2"]

    asyncio.run(run())
