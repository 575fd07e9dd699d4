"""Sessions are created on the default preset, found again by id, expire when idle, and make
room for newcomers: unused ones are discarded, detached ones evicted least recent first."""

import base64
import time

from app.session.outbox import Outbox
from app.session.registry import Registry
from app.session.session import Options


def registry(max_sessions: int = 2, idle: float = 60.0) -> Registry:
    return Registry(Options(), "worked-example", idle_seconds=idle, max_sessions=max_sessions)


def test_idle_sessions_expire_and_followed_ones_stay() -> None:
    reg = registry(idle=0.05)
    a, b = reg.create(), reg.create()
    assert a and b and reg.get(a.id) is a and a.scenario.name == "worked-example"
    b.attach(Outbox())
    time.sleep(0.1)
    reg.expire()
    assert reg.get(a.id) is None and reg.get(b.id) is b


def test_ids_carry_at_least_128_random_bits() -> None:
    reg = registry(max_sessions=50)
    ids = [s.id for s in (reg.create() for _ in range(50)) if s]
    assert len(set(ids)) == 50
    for sid in ids:
        assert len(base64.urlsafe_b64decode(sid + "=" * (-len(sid) % 4))) >= 16


def test_a_session_never_commanded_is_dropped_when_its_last_connection_closes() -> None:
    reg = registry()
    s = reg.create()
    assert s
    first, second = Outbox(), Outbox()
    s.attach(first)
    s.attach(second)
    s.detach(first)
    reg.release(s)
    assert reg.get(s.id) is s  # still followed
    s.detach(second)
    reg.release(s)
    assert reg.get(s.id) is None and reg.counts()["sessions"] == 0


def test_a_used_session_stays_after_its_connection_closes() -> None:
    reg = registry()
    s = reg.create()
    assert s
    box = Outbox()
    s.attach(box)
    reg.used(s)
    s.detach(box)
    reg.release(s)
    assert reg.get(s.id) is s


def test_full_evicts_the_least_recently_seen_detached_session() -> None:
    reg = registry(max_sessions=3)
    old, recent, followed = reg.create(), reg.create(), reg.create()
    assert old and recent and followed
    for s in (old, recent, followed):
        reg.used(s)
    followed.attach(Outbox())
    now = time.monotonic()  # all well within the idle expiry
    old.last_seen, recent.last_seen, followed.last_seen = now - 2, now - 1, now - 3
    new = reg.create()
    assert new is not None
    assert reg.get(old.id) is None and reg.get(recent.id) is recent and reg.get(followed.id) is followed
    assert reg.counts() == {"sessions": 3, "max_sessions": 3, "attached_sessions": 1, "connections": 1}


def test_full_of_followed_sessions_refuses() -> None:
    reg = registry(max_sessions=2)
    for _ in range(2):
        s = reg.create()
        assert s
        s.attach(Outbox())
    assert reg.create() is None
    assert reg.counts()["sessions"] == 2
