"""About 2,000 fuzzed messages over the websocket (the long run: python -m tests.fuzz.run),
and proof that the harness catches each kind of fault it looks for."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.protocol import ProtocolError
from app.session import commands
from app.session.session import Session
from app.web.main import create_app
from tests.fuzz import harness
from tests.fuzz.harness import Figures, Link, exchange, run
from tests.fuzz.messages import MAX_BYTES, Msg


def test_2000_fuzzed_messages_break_nothing() -> None:
    f, rss = run(2000, strict=True, derandomize=True)
    assert f.messages >= 2000
    assert f.violations == [] and f.internal == 0 and f.server_errors == 0
    assert f.errors_answered == f.must_reject > 0  # every message that must be refused was answered by error
    assert f.rejected > f.must_reject and f.state_changes > 0  # the server also judged, and things happened
    assert set(f.kinds) == {"valid", "mutated", "garbage"} and f.closed > 0


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(harness.fuzz_settings())) as c:
        yield c


def check(client: TestClient, msg: Msg) -> Figures:
    f = Figures()
    link = Link(client)
    exchange(client, link, msg, f, strict=False).close()
    return f


def test_the_harness_sees_a_rejected_message_that_changed_the_state(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def leaky(self: Session, cmd: Any) -> None:
        self.cursor.selected += 1
        raise ProtocolError("out_of_history", "no such step", "seek")

    monkeypatch.setitem(commands.HANDLERS, "seek", leaky)
    f = check(client, Msg('{"type": "seek", "step": 5}', "valid:seek"))
    assert f.rejected == 1 and f.violations and "state changed" in f.violations[0]


def test_the_harness_sees_an_unanswered_bad_message(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.web import ws

    real = ws.parse_command
    # takes this one bad message as a pause
    monkeypatch.setattr(ws, "parse_command", lambda text: real('{"type": "pause"}' if text == "not json" else text))
    f = check(client, Msg("not json", "garbage:text", must_reject=True))
    assert f.rejected == 0 and "no error" in f.violations[0]


def test_the_harness_sees_internal_errors(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: Session, cmd: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setitem(commands.HANDLERS, "next", broken)
    f = check(client, Msg('{"type": "next"}', "valid:next"))
    assert f.internal == 1 and "internal error" in f.violations[0]


def test_an_oversized_message_closes_the_connection_and_keeps_the_session(client: TestClient) -> None:
    f = check(client, Msg('{"type": "load", "preset": "' + "a" * MAX_BYTES + '"}', "garbage:oversize", True))
    assert f.closed == 1 and f.violations == []
