"""The protocol fuzzer: a hypothesis state machine that sends messages (messages.py) to one
session over Starlette's TestClient websocket and checks, black-box, after every message:

- a message refused under any parsing rules was answered by `error`;
- a message the server answered by `error` left the session's state unchanged;
- no `internal` error, no dropped connection, no error logged by the server.

Each exchange is: the message, then `pause` (which stops any play and answers with `state`),
then a marker command (a `slice` of a shape the generator never makes). Commands run in order,
so once the marker's answer is in, everything the message caused has arrived, and the last
`state` is the pause's: the state after the message.
"""

import gc
import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from app.web.main import create_app
from app.web.settings import Settings
from tests.fuzz.messages import MARKER, MARKER_POINTS, MARKER_SPAN, MAX_BYTES, Msg, message

VOLATILE = ("session", "playing")  # the id, and play mode, which the exchange's own pause resets
TIMEOUT = 30.0  # seconds without an answer before the harness calls the server stuck


def state_hash(state: dict[str, Any]) -> str:
    """A hash of what the session is (its scenario, weights, step, history...), minus VOLATILE."""
    kept = {k: v for k, v in state.items() if k not in VOLATILE}
    return hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()


def rss_mb() -> float:
    """This process's resident memory (the server runs in it, under the TestClient)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Figures:
    messages: int = 0
    rejected: int = 0  # answered by `error`
    must_reject: int = 0  # refused under any parsing rules
    errors_answered: int = 0  # of those, answered by `error`
    state_changes: int = 0  # accepted messages that changed the state
    closed: int = 0  # over DELTAFLOW_MAX_MESSAGE_BYTES: the connection closed (1009), the session kept
    internal: int = 0  # `internal` errors
    server_errors: int = 0  # dropped connections, exceptions, errors in the server's log
    violations: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)

    def fail(self, text: str, strict: bool) -> None:
        self.violations.append(text[:500])
        if strict:
            raise AssertionError(text[:2000])


class ErrorLog(logging.Handler):
    """Counts what the server logs at ERROR or above."""

    def __init__(self, figures: Figures) -> None:
        super().__init__(logging.ERROR)
        self.figures = figures

    def emit(self, record: logging.LogRecord) -> None:
        self.figures.server_errors += 1
        self.figures.violations.append(f"server log: {record.getMessage()[:300]}")


class Closed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


async def _receive(stream: Any) -> Any:
    with anyio.fail_after(TIMEOUT):
        return await stream.receive()


class Link:
    """One websocket to one session, with the state after the last exchange."""

    def __init__(self, client: TestClient, session: str | None = None) -> None:
        self.cm = client.websocket_connect("/ws" + (f"?session={session}" if session else ""))
        self.ws = self.cm.__enter__()
        try:
            self.state = self.settle()
        except BaseException:
            self.close()
            raise
        self.hash = state_hash(self.state)

    def close(self) -> None:
        try:
            self.cm.__exit__(None, None, None)
        except Exception:  # already closed by the server
            pass

    def send(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            self.ws.send_bytes(data)
        else:
            self.ws.send_text(data)

    def receive(self) -> dict[str, Any] | None:
        """The next text event; None for a binary frame; Closed when the server closes."""
        # the private stream, read with a timeout, so that a stuck server fails the run instead of hanging it
        m = self.ws.portal.call(_receive, self.ws._send_rx)
        if m["type"] == "websocket.close":
            raise Closed(m.get("code", 1000))
        if m.get("text") is not None:
            event: dict[str, Any] = orjson.loads(m["text"])
            return event
        return None

    def settle(self) -> dict[str, Any]:
        """Pause, then the marker; the events up to the marker's answer end with the pause's state."""
        self.send(orjson.dumps({"type": "pause"}).decode())
        self.send(orjson.dumps(MARKER).decode())
        self.events: list[dict[str, Any]] = []
        while True:
            e = self.receive()
            if e is None:
                continue
            if e["type"] == "slice" and len(e["ws"]) == MARKER_POINTS and (e["layer"], e["to"], e["from"]) == (1, 0, 0):
                if abs(e["ws"][-1] - e["ws"][0] - 2 * MARKER_SPAN) < 1e-9:
                    break
            self.events.append(e)
        states = [e for e in self.events if e["type"] == "state"]
        if not states:
            raise AssertionError(f"no state answered the pause: {[e['type'] for e in self.events]}")
        return states[-1]


def exchange(client: TestClient, link: Link, msg: Msg, figures: Figures, strict: bool) -> Link:
    """Send one message and check what it did; returns the link to use next (a new one after a close)."""
    figures.messages += 1
    figures.kinds[msg.kind.split(":")[0]] += 1
    figures.must_reject += msg.must_reject
    before = link.hash
    sid = link.state["session"]
    if msg.size > MAX_BYTES:
        link.send(msg.data)
        try:
            while True:
                link.receive()
        except Closed as e:
            if e.code != 1009:
                figures.fail(f"{msg.kind}: an oversized message closed the connection with {e.code}, not 1009", strict)
        figures.closed += 1
        figures.rejected += 1
        figures.errors_answered += msg.must_reject
        link.close()
        link = Link(client, sid)
        if link.hash != before or link.state["session"] != sid:
            figures.fail(f"{msg.kind}: the session changed after an oversized message closed its connection", strict)
        return link
    try:
        link.send(msg.data)
        after = link.settle()
    except Closed as e:
        figures.server_errors += 1
        figures.fail(f"{msg.kind}: the server closed the connection ({e.code}) on {msg.data[:200]!r}", strict)
        link.close()
        return Link(client, sid)
    errors = [e for e in link.events if e["type"] == "error"]
    internal = [e for e in errors if e["code"] == "internal"]
    figures.internal += len(internal)
    if internal:
        figures.fail(f"{msg.kind}: internal error {internal[0]['message']!r} on {msg.data[:300]!r}", strict)
    link.state, link.hash = after, state_hash(after)
    if errors:
        figures.rejected += 1
        figures.errors_answered += msg.must_reject
        if link.hash != before:
            code = errors[0]["code"]
            figures.fail(f"{msg.kind}: rejected ({code}) but the state changed: {msg.data[:300]!r}", strict)
    else:
        figures.state_changes += link.hash != before
        if msg.must_reject:
            figures.fail(f"{msg.kind}: no error for a message that must be refused: {msg.data[:300]!r}", strict)
    return link


def machine(client: TestClient, figures: Figures, strict: bool) -> type[RuleBasedStateMachine]:
    """A state machine class bound to one app; each run of it is a new session."""

    class Protocol(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.link = Link(client)

        @rule(data=st.data())
        def send(self, data: st.DataObject) -> None:
            msg = data.draw(message(self.link.state), label="message")
            self.link = exchange(client, self.link, msg, figures, strict)

        def teardown(self) -> None:
            self.link.close()

    return Protocol


def fuzz_settings() -> Settings:
    # sessions of finished runs expire at once, so a long run never fills the server
    # the harness sends far faster than a person: lift the per-connection rate limits
    return Settings(session_idle_seconds=0.01, message_rate=1e6, message_burst=10**6, connect_burst=10**6)


def run(
    messages: int, strict: bool, steps: int = 50, derandomize: bool = False, progress: Any = None
) -> tuple[Figures, list[tuple[int, float]]]:
    """Send about `messages` messages, at most `steps` per session. The figures, and the RSS
    (MiB) after each batch of sessions: (messages sent so far, RSS), the first at 0."""
    figures = Figures()
    handler = ErrorLog(figures)
    logging.getLogger().addHandler(handler)
    try:
        with TestClient(create_app(fuzz_settings())) as client:
            gc.collect()
            rss = [(0, rss_mb())]
            cls = machine(client, figures, strict)
            while figures.messages < messages:
                left = messages - figures.messages
                run_state_machine_as_test(
                    cls,
                    settings=settings(
                        max_examples=max(1, min(100, left * 5 // (steps * 4))),  # about 4/5 of `steps` each
                        stateful_step_count=steps,
                        deadline=None,
                        database=None,
                        derandomize=derandomize,
                        suppress_health_check=list(HealthCheck),
                        phases=[Phase.generate, Phase.shrink] if strict else [Phase.generate],
                        print_blob=False,
                    ),
                )
                gc.collect()
                rss.append((figures.messages, rss_mb()))
                if progress:
                    progress(figures, rss[-1][1])
    finally:
        logging.getLogger().removeHandler(handler)
    return figures, rss
