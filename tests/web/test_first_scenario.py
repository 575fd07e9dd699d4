"""A new connection starts on the scenario its page asks for (/ws?preset=NAME or ?s=ID), so
the first `state` a link's page receives is never another preset's."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import scenario as sc
from tests.engine_helpers import doc
from tests.web.conftest import Conn


def first(client: TestClient, query: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first state of a connection opened with `query`, and the errors sent with it."""
    with client.websocket_connect(f"/ws{query}") as ws:
        c = Conn(ws)
        state = c.recv()
        assert state["type"] == "state"
        c.until("epoch")
        errors = []
        c.send({"type": "select", "example": 10**6})  # an answer that surely follows the welcome
        while (e := c.recv())["type"] != "error" or e.get("request") != "select":
            if e["type"] == "error":
                errors.append(e)
        return state, errors


@pytest.mark.parametrize("name", ["xor", "three-class", "encoder-8-3-8"])
def test_a_preset_asked_for_is_the_first_state(client: TestClient, name: str) -> None:
    state, errors = first(client, f"?preset={name}")
    assert state["scenario"]["name"] == name and state["step"] == 0
    assert state["scenario"]["layers"] == sc.preset(name)["layers"]
    assert errors == []


def test_a_stored_scenario_asked_for_is_the_first_state(client: TestClient) -> None:
    d = doc(name="mine", layers=[2, 5, 1])
    sid = client.post("/api/scenarios", content=json.dumps(d)).json()["id"]
    state, errors = first(client, f"?s={sid}")
    assert state["scenario"]["name"] == "mine" and state["scenario"]["layers"] == [2, 5, 1]
    assert state["scenario"]["data"]["train"] == d["data"]["train"]
    assert errors == []


def test_an_unknown_session_restarts_on_the_scenario_asked_for(client: TestClient) -> None:
    state, errors = first(client, "?session=gone&preset=xor")
    assert state["scenario"]["name"] == "xor" and state["session"] != "gone"
    assert [e["code"] for e in errors] == ["unknown_session"]
    assert "the scenario the page asked for" in errors[0]["message"]


def test_a_known_session_ignores_the_fallback(client: TestClient) -> None:
    with client.websocket_connect("/ws?preset=xor") as ws:
        c = Conn(ws)
        sid = c.welcome()["session"]
        c.send({"type": "step"})
        c.until("update")
        with client.websocket_connect(f"/ws?session={sid}&preset=circle") as ws2:
            st = Conn(ws2).recv()
            assert st["session"] == sid and st["scenario"]["name"] == "xor" and st["step"] == 1


@pytest.mark.parametrize(
    ("query", "code", "words"),
    [("?preset=nope", "unknown_preset", "no preset 'nope'"), ("?s=abc", "unknown_ref", "no stored scenario 'abc'")],
)
def test_an_unknown_scenario_is_named_and_the_default_is_used(
    client: TestClient, query: str, code: str, words: str
) -> None:
    state, errors = first(client, query)
    assert state["scenario"]["name"] == "circle"
    assert [e["code"] for e in errors] == [code] and words in errors[0]["message"]
