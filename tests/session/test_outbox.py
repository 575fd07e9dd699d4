"""The per-subscriber queue: ordered, bounded, frames coalesced."""

import asyncio

from app.session.outbox import Message, Outbox


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
