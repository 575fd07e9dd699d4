"""/ws?maps=page: a client that draws train frames' maps itself is sent none with the frames,
others still are, and a session none of whose members want them computes none."""

import asyncio
import json
import struct
import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import scenario as sc
from app.session.cursor import Cursor
from app.session.outbox import Message, Outbox
from app.session.room import Room
from app.session.scheduler import Scheduler
from app.session.session import Options, Session
from tests.web.conftest import Conn
from tests.web.test_rooms import open_room, viewer


def seqs(c: Conn) -> set[int]:
    """The sequence numbers of the binary maps `c` has received."""
    return {struct.unpack_from("<I", b, 4)[0] for b in c.binary}


def train(owner: Conn, frames: int, *others: Conn) -> list[dict[str, Any]]:
    """`frames` train frames as `owner` reads them; then paused, and every connection read up to
    the `state` of the pause and the maps after it."""
    owner.send({"type": "play", "mode": "train", "fps": 60})
    got = [owner.until("frame") for _ in range(frames)]
    owner.send({"type": "pause"})
    for c in (owner, *others):
        while c.until("state")["playing"] is not None:
            pass
        c.send({"type": "ping"})  # answered after the pause's maps, which follow its state
        c.until("pong")
    return got


def test_a_client_drawing_its_maps_gets_frames_without_them_and_others_still_get_them(client: TestClient) -> None:
    with client.websocket_connect("/ws?maps=page&preset=circle") as pw:
        page = Conn(pw)
        sid = page.welcome()["session"]
        with client.websocket_connect(f"/ws?session={sid}") as ow:
            old = Conn(ow)
            old.welcome()
            page.binary.clear()
            frames = train(page, 4, old)
            both = [f for f in frames if f["maps"] is not None]
            assert len(both) == 4  # the frame still numbers its maps, as the server's would be
            assert not seqs(page) & {f["maps"] for f in frames}
            assert {f["maps"] for f in frames} <= seqs(old)
            # maps outside train frames (here: at the pause) still go to every member
            assert seqs(page) and max(seqs(page)) > frames[-1]["maps"]


def test_a_session_whose_members_all_draw_their_maps_computes_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(self: Cursor) -> bytes:
        raise AssertionError("maps computed for a frame no member takes them with")

    async def run(page_maps: bool) -> tuple[list[Message], int]:
        s = Session("t", sc.preset("circle"), Options(), Scheduler())
        box = Outbox()
        box.page_maps = page_maps
        s.attach(box)
        await box.take()
        if page_maps:  # the welcome had its maps; a frame must not
            monkeypatch.setattr(Cursor, "maps", refused)
        seq = s.cursor.map_seq
        s.playing, s.fps = "train", 30
        s.next_frame = 0.0
        s.train_slice()
        assert box.frame is not None
        return box.frame, s.cursor.map_seq - seq

    frame, bumped = asyncio.run(run(False))
    assert [m.binary for m in frame] == [False, True] and bumped == 1
    frame, bumped = asyncio.run(run(True))
    assert [m.binary for m in frame] == [False] and bumped == 1
    assert json.loads(frame[0].data)["maps"] == 2  # numbered after the welcome's maps (1)


def test_a_frame_numbers_its_maps_whoever_draws_them() -> None:
    async def run() -> tuple[list[Message], list[Message]]:
        s = Session("t", sc.preset("circle"), Options(), Scheduler())
        page, other = Outbox(), Outbox()
        page.page_maps = True
        s.attach(page)
        s.attach(other)
        await page.take(), await other.take()
        s.playing, s.fps = "train", 30
        s.next_frame = 0.0
        s.train_slice()
        assert page.frame is not None and other.frame is not None
        return page.frame, other.frame

    page, other = asyncio.run(run())
    assert page == other[:1] and other[1].binary
    assert b'"maps":%d' % struct.unpack_from("<I", other[1].data, 4) in page[0].data


def test_a_viewer_drawing_its_maps_is_sent_none_and_others_within_their_budget() -> None:
    async def run() -> tuple[list[Message], list[Message]]:
        room = Room(lambda box: [Message(b'{"type":"state"}')])
        room.code = "ABCDEF"
        page, other = Outbox(), Outbox()
        page.page_maps = True
        room.join(page, "viewer")
        room.join(other, "viewer")
        await page.take(), await other.take()
        assert room.server_maps
        room.put_frame([Message(b'{"type":"frame"}'), Message(b"DFM1" + bytes(500), True)])
        return await page.take(), await other.take()

    page, other = asyncio.run(run())
    assert [m.binary for m in page] == [False] and sorted(m.binary for m in other) == [False, True]


def test_a_room_of_viewers_drawing_their_maps_computes_none(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    callers: list[str] = []
    maps = Cursor.maps

    def counted(self: Cursor) -> bytes:
        callers.append(sys._getframe(1).f_code.co_name)
        return maps(self)

    monkeypatch.setattr(Cursor, "maps", counted)
    room = open_room(client, preset="circle")
    code = room["room"]
    with client.websocket_connect(f"/ws?room={code}&maps=page") as pw:
        with client.websocket_connect(f"/ws?room={code}&maps=page") as vw:
            p, _ = viewer(pw)
            v, _ = viewer(vw)
            p.send({"type": "claim", "token": room["presenter_token"]})
            p.until("state")
            p.binary.clear()
            v.binary.clear()
            frames = train(p, 3, v)
            assert not (seqs(p) | seqs(v)) & {f["maps"] for f in frames}
            assert "frame" not in callers and "_maps_messages" in callers  # the pause's maps only


def test_an_unknown_maps_value_is_named_and_the_maps_are_sent(client: TestClient) -> None:
    with client.websocket_connect("/ws?maps=canvas") as ws:
        c = Conn(ws)
        assert c.recv()["type"] == "state"
        err = c.until("error")
        assert err["code"] == "invalid_command" and "maps" in err["message"] and "canvas" in err["message"]
        c.binary.clear()
        frames = train(c, 2)
        assert {f["maps"] for f in frames} <= seqs(c)
