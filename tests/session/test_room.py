"""The room: encode once, presenters first, and a viewer's train stream within its byte budget."""

import asyncio
import time

from app.session.outbox import Message, Outbox
from app.session.room import MAPS_AT_LEAST_EVERY, Room


def welcome(box: Outbox) -> list[Message]:
    return [Message(b'{"type":"state"}')]


def drain(box: Outbox) -> list[Message]:
    return asyncio.run(box.take()) if len(box) else []


def test_presenters_are_served_before_viewers() -> None:
    room = Room(welcome)
    room.code = "ABCDEF"
    viewers = [Outbox() for _ in range(3)]
    for v in viewers:
        room.join(v, "viewer")
    p = Outbox()
    room.join(p, "presenter")
    assert room.order()[0] is p and room.viewers == 3 and room.presenting


def test_a_state_is_encoded_per_role_and_hides_the_session_from_viewers() -> None:
    room = Room(welcome)
    room.code = "ABCDEF"
    v, p = Outbox(), Outbox()
    room.join(v, "viewer")
    room.join(p, "presenter")
    drain(v), drain(p)
    room.publish({"type": "state", "session": "secret", "room": None})
    (sv,), (sp,) = drain(v), drain(p)
    assert b'"session":null' in sv.data and b'"role":"viewer"' in sv.data
    assert b'"session":"secret"' in sp.data and b'"role":"presenter"' in sp.data


def test_a_viewers_stream_keeps_within_its_budget_and_its_newest_maps_arrive() -> None:
    async def run() -> tuple[int, bytes, bytes, float]:
        room = Room(welcome, viewer_bytes_per_s=20_000)
        room.code = "ABCDEF"
        v, p = Outbox(), Outbox()
        room.join(v, "viewer")
        room.join(p, "presenter")
        await v.take(), await p.take()
        sent, t0 = 0, time.monotonic()
        for k in range(30):  # one second of frames, each with 10 KB of maps
            maps = Message(bytes([k]) * 10_000, True)
            room.put_frame([Message(b'{"type":"frame"}' + b" " * 980), maps])
            for m in await v.take():
                sent += len(m.data)
            await asyncio.sleep(1 / 30)
        seconds = time.monotonic() - t0
        await asyncio.sleep(MAPS_AT_LEAST_EVERY + 0.1)  # the held maps go out after all
        last = b""
        for m in await v.take():
            sent += len(m.data)
            if m.binary:
                last = m.data
        assert p.frame is not None
        return sent, p.frame[1].data, last, seconds

    sent, presenter_maps, last, seconds = asyncio.run(run())
    # the seconds it took at 20 KB/s (a loaded machine's sleeps run long), plus the first full
    # bucket and the last held set
    assert sent <= 20_000 * seconds + 20_000 + 10_000
    assert last[:1] == bytes([29])  # the newest maps, not an old set
    assert presenter_maps[:1] == bytes([29])  # a presenter's frames keep their maps
