"""No single client can stall, starve or exhaust the server: rate limits, coalesced errors,
`pause` cancelling waiting work, and sessions that make room for the next visitor."""

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.web.limits import AddressLimiter, TokenBucket
from app.web.main import create_app
from app.web.settings import Settings
from tests.web.conftest import Conn
from tests.web.largest import EXAMPLES, largest


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@contextlib.contextmanager
def app_client(**settings: Any) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(**settings))) as c:
        yield c


def closed(c: Conn) -> tuple[list[dict[str, Any]], WebSocketDisconnect]:
    """Events until the server closes the connection, and how it closed."""
    events = []
    with pytest.raises(WebSocketDisconnect) as e:
        while True:
            events.append(c.recv())
    return events, e.value


# --- token buckets ---------------------------------------------------------------------------
def test_token_bucket_allows_its_burst_then_its_rate() -> None:
    clock = Clock()
    b = TokenBucket(rate=4, burst=3, clock=clock)
    assert [b.take() for _ in range(4)] == [True, True, True, False]
    clock.t += 0.125  # half a token
    assert not b.take()
    clock.t += 0.125
    assert b.take() and not b.take()
    clock.t += 100  # never more than the burst
    assert [b.take() for _ in range(4)] == [True, True, True, False]


def test_address_limiter_keeps_addresses_apart_and_its_table_bounded() -> None:
    clock = Clock()
    lim = AddressLimiter(per_minute=60, burst=2, max_addresses=10, clock=clock)
    assert [lim.allow("a") for _ in range(3)] == [True, True, False]
    assert lim.allow("b")  # another address has its own bucket
    clock.t += 1
    assert lim.allow("a") and not lim.allow("a")  # one a second
    for i in range(100):
        lim.allow(f"10.0.0.{i}")
    assert len(lim.buckets) <= 10


# --- messages per connection -------------------------------------------------------------------
def test_messages_beyond_the_rate_are_answered_rate_limited_and_change_nothing() -> None:
    with app_client(message_burst=5, message_rate=0.001) as client, client.websocket_connect("/ws") as ws:
        c = Conn(ws)
        c.welcome()
        for _ in range(4):
            c.send({"type": "step"})
        st = c.state()  # the fifth message
        assert st["step"] == 4
        for _ in range(50):
            c.send({"type": "step"})
        errors = [e for e in c.collect("error")]
        err = errors[-1]
        assert err["code"] == "rate_limited" and "at most 0.001 a second" in err["message"]
        assert sum(e.get("count", 1) for e in errors if e["type"] == "error") <= 50


# --- pause ------------------------------------------------------------------------------------
def test_pause_cancels_waiting_long_commands_in_one_message(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        c = Conn(ws)
        c.welcome()
        c.send({"type": "step", "count": 100_000})  # runs for seconds
        for _ in range(3):
            c.send({"type": "step", "count": 100_000})
        c.send({"type": "epoch"})
        c.send({"type": "select", "example": 3})  # short: not cancelled
        c.send({"type": "pause"})
        events = c.collect("error")
        err = events[-1]
        assert err["code"] == "cancelled" and err["request"] == "pause" and err["count"] == 4
        assert "step ×3, epoch" in err["message"]
        states = [c.until("state") for _ in range(3)]  # the interrupted step, select, pause
        assert states[1]["selected"] == 3
        stopped = states[-1]["step"]
        assert 0 < stopped < 100_000
        assert c.state()["step"] == stopped  # nothing else ran after the pause


# --- connections ------------------------------------------------------------------------------
def test_new_connections_per_address_are_limited_with_close_1013() -> None:
    with app_client(connect_burst=3, connect_per_minute=1) as client:
        for _ in range(3):
            with client.websocket_connect("/ws") as ws:
                Conn(ws).welcome()
        with client.websocket_connect("/ws") as ws:
            events, how = closed(Conn(ws))
        assert [e["code"] for e in events] == ["rate_limited"] and "a minute" in events[0]["message"]
        assert how.code == 1013 and "too many new connections" in how.reason
        assert client.get("/healthz").json()["sessions"] == 0


def test_connections_per_session_are_limited(client: TestClient) -> None:
    with app_client(connections_per_session=2) as client, client.websocket_connect("/ws") as first:
        c = Conn(first)
        sid = c.welcome()["session"]
        with client.websocket_connect(f"/ws?session={sid}") as second:
            assert Conn(second).welcome()["session"] == sid
            with client.websocket_connect(f"/ws?session={sid}") as third:
                events, how = closed(Conn(third))
            assert [e["code"] for e in events] == ["too_many_connections"] and how.code == 1013
        with client.websocket_connect(f"/ws?session={sid}") as again:  # room once one left
            assert Conn(again).welcome()["session"] == sid


def test_a_visitor_after_a_flood_of_connections_gets_a_session() -> None:
    with app_client(max_sessions=20, connect_burst=10_000) as client:
        for _ in range(600):
            with client.websocket_connect("/ws"):
                pass
        assert client.get("/healthz").json()["sessions"] == 0  # none was kept
        with client.websocket_connect("/ws") as ws:
            st = Conn(ws).welcome()
            assert st["step"] == 0 and st["session"]


def test_full_server_evicts_a_detached_session_then_refuses(client: TestClient) -> None:
    with app_client(max_sessions=2) as client:
        sids = []
        for _ in range(2):
            with client.websocket_connect("/ws") as ws:
                c = Conn(ws)
                sids.append(c.welcome()["session"])
                c.send({"type": "select", "example": 1})  # used: kept when the connection closes
                c.until("state")
        with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
            new = [Conn(a).welcome()["session"], Conn(b).welcome()["session"]]
            assert not set(new) & set(sids)  # both detached sessions made room
            with client.websocket_connect("/ws") as c:
                events, how = closed(Conn(c))
            assert [e["code"] for e in events] == ["busy"] and how.code == 1013 and "full" in how.reason
            health = client.get("/healthz").json()
            assert health["status"] == "degraded" and health["reasons"] == ["sessions: 2 of at most 2"]
            assert (health["sessions"], health["attached_sessions"], health["connections"]) == (2, 2, 2)
        with client.websocket_connect(f"/ws?session={sids[0]}") as ws:  # evicted, but saved: it comes back
            st = Conn(ws).welcome()
            assert st["session"] == sids[0] and st["selected"] == 1


def test_healthz_is_ok_below_nine_tenths_of_the_sessions() -> None:
    with app_client(max_sessions=10) as client, contextlib.ExitStack() as stack:
        for n in range(1, 10):
            Conn(stack.enter_context(client.websocket_connect("/ws"))).welcome()
            health = client.get("/healthz").json()
            assert health["sessions"] == n and health["connections"] == n
            assert health["status"] == ("degraded" if n >= 9 else "ok")


def test_the_largest_welcome_fits_the_smallest_outbox_allowed() -> None:
    doc = largest()
    with app_client(outbox_mb=Settings.model_fields["outbox_mb"].metadata[0].ge) as client:
        ref = client.post("/api/scenarios", content=json.dumps(doc), headers={"content-type": "application/json"})
        with client.websocket_connect("/ws") as ws:
            c = Conn(ws)
            c.welcome()
            c.send({"type": "load", "ref": ref.json()["id"]})
            assert c.until("state")["scenario"]["layers"] == doc["layers"]
            ds = c.until("dataset")  # not emptied for a resync on the way
            assert ds["train"]["size"] + ds["test"]["size"] == EXAMPLES
            c.send({"type": "select", "example": 1})
            assert c.until("state")["selected"] == 1  # and no resync welcome came between
