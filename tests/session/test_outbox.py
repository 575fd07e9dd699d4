"""The per-subscriber queue: ordered, bounded in messages and bytes, frames and errors coalesced."""

import asyncio
import json

from app import scenario as sc
from app.session.outbox import MAX_ERROR_KINDS, Message, Outbox
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


def test_an_idle_outbox_writes_at_once_and_a_busy_one_keeps_the_order() -> None:
    box, wire = Outbox(limit=100), Wire()
    box.direct = wire
    box.put(msg(1))
    box.put_frame([msg(10), Message(b"maps10", True)])
    assert wire.written == [b"1", b"10", b"maps10"] and len(box) == 0
    wire.open = False  # the connection's buffer is full
    box.put(msg(2))
    wire.open = True
    box.put(msg(3))  # not before 2, which waits
    box.put_frame([msg(11)])
    assert wire.written == [b"1", b"10", b"maps10"]
    assert [m.data for m in asyncio.run(box.take())] == [b"2", b"3", b"11"]
    box.sending = True  # the sender still holds what it took
    box.put(msg(4))
    box.sending = False
    assert wire.written == [b"1", b"10", b"maps10"] and len(box) == 1
    assert box.puts == 4  # every event put is counted, written at once or queued (frames are not)


def test_a_frame_half_written_leaves_the_rest_to_coalesce() -> None:
    box = Outbox(limit=100)
    sent: list[bytes] = []
    box.direct = lambda m: not m.binary and not sent.append(m.data)
    box.put_frame([msg(10), Message(b"maps10", True)])
    box.put_frame([msg(11), Message(b"maps11", True)])  # the maps still wait: this replaces them
    assert sent == [b"10"]
    assert [m.data for m in asyncio.run(box.take())] == [b"11", b"maps11"]


def test_errors_and_a_resync_wait_for_the_sender() -> None:
    box, wire = Outbox(limit=100), Wire()
    box.direct = wire
    box.put_error({"type": "error", "code": "invalid_command", "message": "x"})
    box.put(msg(1))
    assert wire.written == []
    assert [
        json.loads(m.data).get("code", None) if m.data.startswith(b"{") else m.data for m in asyncio.run(box.take())
    ] == [
        "invalid_command",
        b"1",
    ]
    box.resync = True
    box.put(msg(2))
    assert wire.written == []
