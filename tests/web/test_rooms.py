"""Classroom rooms: a presenter drives one session, viewers follow it read-only, any viewer forks."""

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.session.room import CODE_ALPHABET
from app.web.main import create_app
from app.web.settings import Settings
from tests.web.conftest import Conn


def open_room(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/api/rooms", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def viewer(ws: Any) -> tuple[Conn, dict[str, Any]]:
    c = Conn(ws)
    return c, c.welcome()


@pytest.fixture
def small() -> Iterator[TestClient]:
    settings = Settings(room_max_viewers=2, max_rooms=1)
    with TestClient(create_app(settings)) as c:
        yield c


def test_opening_a_room_gives_a_code_a_token_and_a_qr_code(client: TestClient) -> None:
    room = open_room(client, preset="worked-example")
    code = room["room"]
    assert len(code) == 6 and set(code) <= set(CODE_ALPHABET)
    assert len(room["presenter_token"]) >= 32  # 192 bits, url-safe base64
    assert room["join_url"].endswith(f"/r/{code}")
    svg = client.get(room["qr_svg_url"])
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.lstrip().startswith("<svg")
    assert client.get(f"/api/rooms/{code}").json() == {"room": code, "viewers": 0, "presenter": False}
    assert client.get(f"/api/rooms/{code.lower()}").status_code == 200  # case-insensitive
    assert client.get("/api/rooms/ZZZZZZ").status_code == 404
    page = client.get(f"/r/{code}")
    assert page.status_code == 200 and f'data-room="{code}"' in page.text
    assert client.get("/r/ZZZZZZ").status_code == 404


def test_bad_room_requests_name_the_problem(client: TestClient) -> None:
    r = client.post("/api/rooms", json={"preset": "circle", "session": "x"})
    assert r.status_code == 400 and "at most one" in r.text
    assert client.post("/api/rooms", json={"preset": "nope"}).status_code == 404
    r = client.post("/api/rooms", json={"scenario": {"layers": [2]}})
    assert r.status_code == 400 and "scenario" in r.text
    assert client.post("/api/rooms", json={"session": "unknown"}).status_code == 404
    assert client.post("/api/rooms", json={"colour": "red"}).status_code == 422


def test_viewers_follow_read_only_and_see_the_presenters_events(client: TestClient) -> None:
    room = open_room(client, preset="worked-example")
    code = room["room"]
    with client.websocket_connect(f"/ws?room={code}") as pw, client.websocket_connect(f"/ws?room={code}") as vw:
        p, st = viewer(pw)
        assert st["room"]["code"] == code and st["room"]["role"] == "viewer"
        assert st["session"] is None  # the id would grant control
        v, _ = viewer(vw)
        p.send({"type": "claim", "token": "wrong"})
        assert p.until("error")["code"] == "forbidden"
        p.send({"type": "claim", "token": room["presenter_token"]})
        st = p.until("state")
        assert st["room"]["role"] == "presenter" and st["session"]
        # the viewer may not change the session, and nothing changes
        v.send({"type": "next"})
        err = v.until("error")
        assert err["code"] == "read_only" and "fork" in err["message"]
        v.send({"type": "ping"})
        assert v.until("pong") == {"type": "pong"}
        # the presenter's phases reach the viewer, in order
        for _ in range(3):
            p.send({"type": "next"})
        seen = [v.until(k)["type"] for k in ("batch", "forward", "forward")]
        assert seen == ["batch", "forward", "forward"]
        assert client.get(f"/api/rooms/{code}").json() == {"room": code, "viewers": 1, "presenter": True}


def test_several_presenters_may_hold_the_token(client: TestClient) -> None:
    room = open_room(client)
    code, token = room["room"], room["presenter_token"]
    with client.websocket_connect(f"/ws?room={code}") as aw, client.websocket_connect(f"/ws?room={code}") as bw:
        a, _ = viewer(aw)
        b, _ = viewer(bw)
        for c in (a, b):
            c.send({"type": "claim", "token": token})
            assert c.until("state")["room"]["role"] == "presenter"
        b.send({"type": "step"})
        assert a.until("update")["step"] == 1


def test_a_fork_at_a_mid_step_phase_has_the_rooms_exact_state(client: TestClient) -> None:
    doc = client.get("/api/presets/three-class").json()
    doc["optimizer"] = {"type": "adam", "learning_rate": 0.01}
    room = open_room(client, scenario=doc)
    code = room["room"]
    registry = client.app.state.registry  # type: ignore[attr-defined]
    with client.websocket_connect(f"/ws?room={code}") as pw, client.websocket_connect(f"/ws?room={code}") as vw:
        p, _ = viewer(pw)
        v, _ = viewer(vw)
        p.send({"type": "claim", "token": room["presenter_token"]})
        p.until("state")
        p.send({"type": "step", "count": 3})  # Adam has state now
        p.until("state")
        v.until("state")
        for _ in range(4):  # batch, forward 1, forward 2, output_error
            p.send({"type": "next"})
        p.until("output_error")
        v.until("output_error")
        v.send({"type": "fork"})
        st = v.until("state")
        assert st["room"] is None and st["phase"] == {"event": "backward", "layer": 2}
        mine, theirs = registry.get(st["session"]), registry.rooms.get(code)
        assert mine is not theirs and st["session"] != theirs.id
        a, b = mine.cursor, theirs.cursor
        assert all(np.array_equal(x, y) for x, y in zip(a.trainer.net.params, b.trainer.net.params, strict=True))
        sa, sb = a.trainer.optimizer.state(), b.trainer.optimizer.state()
        assert sa["t"] == sb["t"] == 4
        assert all(np.array_equal(x, y) for x, y in zip(sa["m"] + sa["v"], sb["m"] + sb["v"], strict=True))
        assert a.history.steps == b.history.steps and a.index == b.index
        # both go on to the same next event; the fork's own steps leave the room alone
        v.send({"type": "next"})
        p.send({"type": "next"})
        assert v.until("backward") == p.until("backward")
        v.send({"type": "step", "count": 5})
        assert v.until("state")["step"] == 8
        p.send({"type": "pause"})
        assert p.until("state")["step"] == 3
        # and back to the class, at its live state
        v.send({"type": "follow", "room": code.lower()})
        st = v.until("state")
        assert st["room"]["code"] == code and st["step"] == 3 and st["session"] is None


def test_a_session_becomes_a_room_and_its_page_presents(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        c = Conn(ws)
        st = c.welcome()
        assert st["room"] is None
        room = open_room(client, session=st["session"])
        st = c.until("state")
        assert st["room"] == {"code": room["room"], "role": "presenter", "viewers": 0}
        c.send({"type": "step"})
        assert c.until("update")["step"] == 1  # a presenter drives


def test_the_head_count_reaches_every_member(client: TestClient) -> None:
    room = open_room(client)
    code = room["room"]
    with client.websocket_connect(f"/ws?room={code}") as aw:
        a, _ = viewer(aw)
        assert a.until("room")["viewers"] == 1
        with client.websocket_connect(f"/ws?room={code}") as bw:
            viewer(bw)
            assert a.until("room") == {"type": "room", "code": code, "viewers": 2, "presenter": False}
        assert a.until("room")["viewers"] == 1


def test_unknown_rooms_and_limits(small: TestClient) -> None:
    with small.websocket_connect("/ws?room=ZZZZZZ") as ws:
        assert Conn(ws).recv()["code"] == "unknown_room"
    code = open_room(small)["room"]
    r = small.post("/api/rooms", json={})
    assert r.status_code == 503 and "rooms" in r.text
    with small.websocket_connect(f"/ws?room={code}") as a, small.websocket_connect(f"/ws?room={code}") as b:
        viewer(a)
        viewer(b)
        with small.websocket_connect(f"/ws?room={code}") as c:
            assert Conn(c).recv()["code"] == "room_full"


def test_an_idle_room_closes_and_tells_its_viewers(client: TestClient) -> None:
    code = open_room(client)["room"]
    registry = client.app.state.registry  # type: ignore[attr-defined]
    with client.websocket_connect(f"/ws?room={code}") as ws:
        v, _ = viewer(ws)
        registry.rooms.idle_seconds = 0.0
        client.portal.call(registry.expire)  # type: ignore[attr-defined]
        assert v.until("error")["code"] == "room_closed"
    assert client.get(f"/api/rooms/{code}").status_code == 404


def test_the_join_url_uses_a_network_address_when_serving_every_interface() -> None:
    from app.web import netinfo

    with TestClient(create_app(Settings(host="0.0.0.0")), base_url="http://127.0.0.1:8000") as c:
        url = open_room(c)["join_url"]
    addrs = netinfo.lan_addresses()
    host = re.match(r"http://([^/:]+)", url).group(1)  # type: ignore[union-attr]
    assert host == (addrs[0] if addrs else "127.0.0.1")


def test_serving_every_interface_names_the_addresses_students_can_open(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.web import main, netinfo

    monkeypatch.setattr(netinfo, "lan_addresses", lambda: ["192.168.1.20", "10.0.0.5"])
    assert main.urls("0.0.0.0", 8000) == [
        "http://127.0.0.1:8000",
        "http://192.168.1.20:8000",
        "http://10.0.0.5:8000",
    ]
    assert main.urls("127.0.0.1", 8001) == ["http://127.0.0.1:8001"]


def test_the_machines_network_addresses_leave_out_loopback() -> None:
    from app.web import netinfo

    addrs = netinfo.lan_addresses()
    assert all(not a.startswith("127.") and a != "0.0.0.0" for a in addrs)
