"""The loop's Flusher under a room's load: a presenter's outbox is written before the viewers'
that were already waiting, so a large room never delays the presenter's events."""

import asyncio

from app.session.outbox import WRITES_PER_TURN, Message, Outbox


def test_a_presenter_is_written_before_viewers_still_waiting_from_an_earlier_event() -> None:
    async def run() -> list[tuple[str, bytes]]:
        written: list[tuple[str, bytes]] = []

        def box(name: str, viewer: bool) -> Outbox:
            b = Outbox(limit=100)
            b.low_priority = viewer
            b.direct = lambda m: written.append((name, m.data)) is None
            return b

        presenter = box("presenter", False)
        viewers = [box(f"v{k}", True) for k in range(3 * WRITES_PER_TURN)]
        for e in (b"e1", b"e2"):  # as Room.put does: the presenter first, then every viewer
            for b in [presenter, *viewers]:
                b.put(Message(e))
            await asyncio.sleep(0)  # one turn: the Flusher writes WRITES_PER_TURN, the rest wait
        for _ in range(10):
            await asyncio.sleep(0)
        return written

    written = asyncio.run(run())
    assert len(written) == 2 * (1 + 3 * WRITES_PER_TURN)  # every message once
    e2 = [name for name, data in written if data == b"e2"]
    assert e2[0] == "presenter", f"the presenter's second event came after {e2.index('presenter')} viewers'"
    for name in {name for name, _ in written}:  # and each connection's in order
        assert [d for n, d in written if n == name] == [b"e1", b"e2"]


def test_a_frame_goes_out_where_it_was_put_not_after_later_events() -> None:
    """A train frame waits (to coalesce) while the connection is busy; a pause and a step put
    after it must not be overtaken by it, or the page shows the frame's older weights and step
    after the step's own events."""

    async def run() -> list[bytes]:
        written: list[bytes] = []
        box = Outbox(limit=100)
        box.direct = lambda m: written.append(m.data) is None
        box.sending = True  # the connection's task still holds what it took: puts wait
        box.put_frame([Message(b"frame 1"), Message(b"maps 1", True)])
        box.put_frame([Message(b"frame 2"), Message(b"maps 2", True)])  # coalesced
        box.put(Message(b"state 2"))  # pause
        box.put(Message(b"batch 3"))  # step
        box.put_frame([Message(b"frame 3"), Message(b"maps 3", True)])
        box.put(Message(b"update 3"))
        box.sending = False
        written.extend(m.data for m in await box.take())
        return written

    # frame 2 is coalesced into frame 3, which goes where it was put: before "update 3"
    assert asyncio.run(run()) == [b"state 2", b"batch 3", b"frame 3", b"maps 3", b"update 3"]


def test_one_connection_whose_write_fails_does_not_stop_the_others() -> None:
    """A write that raises (a transport in a state no one foresaw) closes that connection; the
    outboxes queued behind it are still written, on this turn and on later ones."""

    async def run() -> tuple[list[bytes], Outbox]:
        written: list[bytes] = []

        def broken(m: Message) -> bool:
            raise RuntimeError("Cannot call write() after write_eof()")

        bad = Outbox(limit=100)
        bad.direct = broken
        good = [Outbox(limit=100) for _ in range(3)]
        for b in good:
            b.direct = lambda m: written.append(m.data) is None
        for b in [bad, *good]:
            b.put(Message(b"1"))
        await asyncio.sleep(0)
        for b in [bad, *good]:
            b.put(Message(b"2"))
        await asyncio.sleep(0)
        return written, bad

    written, bad = asyncio.run(run())
    assert written == [b"1"] * 3 + [b"2"] * 3
    assert bad.closed  # its connection's task ends, and the connection with it
