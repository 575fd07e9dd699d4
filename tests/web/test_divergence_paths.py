"""The issue's minimal diverging case on every live path: each must stop where the CLI does.

The guard (app/nn/guard.py) puts the first bad step at 512, so every path pauses at step 511
with a reason naming step 512 and the loss; tests/test_cli.py checks the same for the CLI.
"""

from typing import Any

import pytest

from app.session import replica, work
from tests.nn import diverging
from tests.web.conftest import Conn

S = diverging.FIRST_BAD


def paused(conn: Conn, marker: bool = True, limit: int = 20_000) -> dict[str, Any]:
    """The first state that says why the run stopped, read before the end of the commands sent.

    With `marker`, a command the session refuses (in turn, after the others) is sent last, so its
    `error` ends the reading when no state says so; playing sessions send on, so `limit`
    messages end it instead.
    """
    if marker:
        conn.send({"type": "select", "example": 9999})
    for _ in range(limit):
        e = conn.recv()
        if e["type"] == "state" and e["paused_reason"]:
            return e
        if e["type"] == "error" and e["request"] == "select":
            break
    raise AssertionError("no state said why the run stopped")


def to(conn: Conn, step: int) -> None:
    """Load the case and step to `step`, short of the divergence."""
    conn.load(scenario=diverging.minimal())
    if step:
        conn.send({"type": "step", "count": step})
        assert conn.until("state")["step"] == step


def by_next(conn: Conn) -> dict[str, Any]:
    to(conn, S - 3)
    for _ in range(3 * 8):
        conn.send({"type": "next"})
    return paused(conn)


def by_step(conn: Conn, count: int) -> dict[str, Any]:
    to(conn, 0)
    conn.send({"type": "step", "count": count})
    return paused(conn)


def by_epoch(conn: Conn) -> dict[str, Any]:
    to(conn, S - 5)  # one example: every step ends an epoch
    for _ in range(8):
        conn.send({"type": "epoch"})
    return paused(conn)


def by_play(conn: Conn, mode: str) -> dict[str, Any]:
    to(conn, S - 3 if mode == "animate" else 0)
    conn.send({"type": "play", "mode": mode, "speed": 120} if mode == "animate" else {"type": "play", "mode": mode})
    return paused(conn, marker=False)


PATHS = {
    "next": by_next,
    "step 520": lambda c: by_step(c, 520),
    "step 100000": lambda c: by_step(c, 100_000),
    "epoch": by_epoch,
    "play train": lambda c: by_play(c, "train"),
    "play animate": lambda c: by_play(c, "animate"),
}


@pytest.mark.parametrize("where", ["inline", "off the loop"])
@pytest.mark.parametrize("path", list(PATHS))
def test_every_live_path_stops_where_the_cli_does(
    conn: Conn, path: str, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where == "off the loop":  # as a large run's are: worker threads, and traced steps in the replica
        monkeypatch.setattr(work, "INLINE_FLOPS", 0)
        monkeypatch.setattr(replica, "REMOTE_FLOPS", 0)
    st = PATHS[path](conn)
    assert st["step"] == S - 1 and st["playing"] is None
    why = st["paused_reason"]
    assert why["kind"] == "nonfinite" and why["step"] == S, why
    reason = why["message"]
    assert f"step {S}" in reason and "the loss" in reason, reason
    w, b = st["weights"][0][0][0], st["biases"][0][0]
    assert w is not None and b is not None and abs(w + b) == 2.0 ** (S - 1)  # finite: |u| = 2^511
