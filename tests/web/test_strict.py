"""Commands are read strictly: JSON types as given, no repeated keys, text frames only."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.protocol import ProtocolError, parse_command
from tests.web.conftest import Conn

STRICT: list[tuple[str, str, str, str]] = [
    # (id, message text, code, a fragment of the message)
    ("true-for-int", '{"type": "step", "count": true}', "invalid_command", "step.count"),
    ("false-for-int", '{"type": "seek", "step": false}', "invalid_command", "seek.step"),
    ("true-for-float", '{"type": "set", "learning_rate": true}', "invalid_command", "set.learning_rate"),
    ("string-int", '{"type": "step", "count": "1"}', "invalid_command", "not numbers"),
    ("padded-string-int", '{"type": "select", "example": " 3 "}', "invalid_command", "select.example"),
    ("string-float", '{"type": "set_bias", "layer": 1, "unit": 0, "value": "0.5"}', "invalid_command", "value"),
    ("float-for-int", '{"type": "step", "count": 2.0}', "invalid_command", "step.count"),
    (
        "nested-string",
        '{"type": "set", "optimizer": {"type": "sgd", "learning_rate": "0.1"}}',
        "invalid_command",
        "set.optimizer.learning_rate",
    ),
    ("duplicate-top", '{"type": "step", "count": 1, "count": 5}', "duplicate_key", "'count'"),
    ("duplicate-type", '{"type": "next", "type": "reset"}', "duplicate_key", "'type'"),
    (
        "duplicate-nested",
        '{"type": "set", "optimizer": {"type": "sgd", "learning_rate": 0.1, "learning_rate": 9}}',
        "duplicate_key",
        "'learning_rate'",
    ),
    (
        "duplicate-deep-in-scenario",
        '{"type": "load", "scenario": {"layers": [2, 1], "data": {"generator": "and", "generator": "or"}}}',
        "duplicate_key",
        "'generator'",
    ),
    ("duplicate-escaped", '{"type": "next", "\\u0074ype": "next"}', "duplicate_key", "'type'"),
    ("empty-set", '{"type": "set"}', "invalid_command", "give at least one of learning_rate, batch_size"),
    ("all-null-set", '{"type": "set", "learning_rate": null}', "invalid_command", "set: give at least one"),
]


@pytest.mark.parametrize("text,code,fragment", [b[1:] for b in STRICT], ids=[b[0] for b in STRICT])
def test_strict_refusals_change_nothing(conn: Conn, text: str, code: str, fragment: str) -> None:
    conn.load("worked-example")
    conn.send({"type": "step", "count": 3})
    before = conn.until("state")
    conn.ws.send_text(text)
    err = conn.until("error")
    assert err["code"] == code and fragment in err["message"], err
    assert err["request"] == json.loads(text)["type"]
    assert conn.state() == before


def test_a_command_in_a_binary_frame_is_refused(conn: Conn) -> None:
    before = conn.state()
    conn.ws.send_bytes(b'{"type": "step"}')
    err = conn.until("error")
    assert err["code"] == "binary_not_allowed" and "text" in err["message"]
    assert conn.state() == before


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "play", "mode": "animate", "speed": 4}',  # an int where a float goes
        '{"type": "set", "learning_rate": 1}',
        '{"type": "set", "regularization": {"type": "l2", "rate": 0}}',
        '{"type": "load", "scenario": {"a": ["x\\"", ": 1", {"b": "\\": ", "c": 1}]}}',  # colons in strings
        '{"type": "load", "scenario": {"a": {"k": 1}, "b": {"k": 2}}}',  # one key in two objects
    ],
)
def test_valid_commands_still_parse(text: str) -> None:
    assert parse_command(text).type == json.loads(text)["type"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.lists(st.tuples(st.text(max_size=3), inner), max_size=4),
    max_leaves=20,
)


def render(v: Any) -> str:
    """JSON text of `v`, where a list of pairs is an object that may repeat a key."""
    if isinstance(v, list) and v and all(isinstance(x, tuple) for x in v):
        return "{" + ", ".join(f"{json.dumps(k)}: {render(x)}" for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(render(x) for x in v) + "]"
    return json.dumps(v)


def has_duplicates(text: str) -> bool:
    found = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        found = found or len({k for k, _ in pairs}) < len(pairs)
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return found


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_repeated_keys_are_found_wherever_they_are(value: Any) -> None:
    text = '{"type": "load", "scenario": ' + render(value) + "}"
    try:
        parse_command(text)
        refused = None
    except ProtocolError as e:
        refused = e.code
    assert (refused == "duplicate_key") == has_duplicates(text), text


def test_a_lone_surrogate_is_refused_and_the_connection_goes_on(conn: Conn) -> None:
    conn.ws.send_text('{"type": "pause\ud800"}')  # no UTF-8 text holds one; a test client can send it
    err = conn.until("error")
    assert err["code"] == "invalid_json" and "UTF-8" in err["message"]
    conn.send({"type": "ping"})
    assert conn.until("pong") == {"type": "pong"}


@pytest.mark.parametrize("depth", [300, 600, 1000])
def test_deep_nesting_is_refused_in_words(conn: Conn, depth: int) -> None:
    conn.ws.send_text('{"type": "set", "x": ' + "[" * depth + "]" * depth + "}")
    assert conn.until("error")["code"] == "invalid_json"
    conn.send({"type": "ping"})
    assert conn.until("pong") == {"type": "pong"}
