"""Train mode at a chosen number of steps per second: never faster than asked, and it trains."""

import time

from tests.web.conftest import Conn


def test_train_at_a_rate_never_outruns_it(conn: Conn) -> None:
    conn.load("xor")
    start = time.perf_counter()
    conn.send({"type": "play", "mode": "train", "steps_per_second": 20})
    assert conn.until("state")["playing"] == "train"
    while conn.until("frame")["step"] < 3:  # it does train
        pass
    st = conn.state()
    elapsed = time.perf_counter() - start
    # an upper bound only: a slow machine gives fewer steps, never more
    assert 3 <= st["step"] <= 20 * elapsed + 1


def test_train_flat_out_is_far_faster_than_a_slow_rate(conn: Conn) -> None:
    conn.load("xor")
    conn.send({"type": "play", "mode": "train", "steps_per_second": 1})
    conn.until("state")
    start = time.perf_counter()
    conn.until("frame")
    conn.until("frame")
    slow = conn.state()["step"]
    assert slow <= 1 * (time.perf_counter() - start) + 2
    conn.send({"type": "play", "mode": "train"})
    while conn.until("frame")["step"] < slow + 200:  # flat out: hundreds of steps within a few frames
        pass
    conn.state()


def test_a_rate_out_of_range_is_refused_in_words(conn: Conn) -> None:
    conn.send({"type": "play", "mode": "train", "steps_per_second": 0})
    e = conn.until("error")
    assert e["code"] == "invalid_command" and "steps_per_second" in e["message"]
