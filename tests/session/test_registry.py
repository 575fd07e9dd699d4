"""Sessions are created on the default preset, found again by id, and expire when idle."""

import time

from app.session.outbox import Outbox
from app.session.registry import Registry
from app.session.session import Options


def test_idle_sessions_expire_and_followed_ones_stay() -> None:
    reg = Registry(Options(), "worked-example", idle_seconds=0.05, max_sessions=2)
    a, b = reg.create(), reg.create()
    assert a and b and reg.get(a.id) is a and a.scenario.name == "worked-example"
    assert reg.create() is None  # full
    b.attach(Outbox())
    time.sleep(0.1)
    reg.expire()
    assert reg.get(a.id) is None and reg.get(b.id) is b
    assert reg.create() is not None  # room again
