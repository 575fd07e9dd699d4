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
