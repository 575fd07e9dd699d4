"""The bulk data path: POST /api/scenarios, GET it back, `load` by `ref`, and the limits."""

import copy
import json
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app import scenario as sc
from app.ingest import ID_CHARS
from app.web.main import create_app
from app.web.settings import Settings
from app.web.uploads import ScenarioStore
from tests.web.conftest import Conn
from tests.web.largest import EXAMPLES, UNITS, largest


def upload(client: TestClient, doc: Any) -> Any:
    return client.post("/api/scenarios", content=json.dumps(doc), headers={"content-type": "application/json"})


def test_a_scenario_is_stored_under_an_id_from_its_content(client: TestClient) -> None:
    doc = sc.preset("xor")
    r = upload(client, doc)
    assert r.status_code == 201
    key = r.json()["id"]
    assert len(key) == ID_CHARS >= 16 and key.isalnum() and key == key.lower()
    assert client.get(f"/api/scenarios/{key}").json() == doc
    # the same document, keys in another order and spaced differently: the same id
    again = client.post("/api/scenarios", content=json.dumps(dict(reversed(doc.items())), indent=3))
    assert again.json()["id"] == key
    assert upload(client, sc.preset("circle")).json()["id"] != key


def test_an_unknown_id_is_404(client: TestClient) -> None:
    r = client.get("/api/scenarios/" + "a" * ID_CHARS)
    assert r.status_code == 404 and "no stored scenario" in r.json()["detail"]


def test_an_invalid_scenario_gets_the_same_error_as_load(client: TestClient, conn: Conn) -> None:
    bad = copy.deepcopy(sc.preset("xor"))
    bad["layers"] = [2, 65, 1]
    r = upload(client, bad)
    conn.send({"type": "load", "scenario": bad})
    err = conn.until("error")
    assert r.status_code == 422 and err["code"] == "invalid_scenario"
    assert r.json()["detail"] == err["message"] == "scenario: layers[1]: Input should be less than or equal to 64"


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ("{not json", 400, "not valid JSON"),
        ("[1, 2]", 422, "scenario: scenario: must be a JSON object"),
        ('{"layers": [1, 1], "activations": ["linear"]}', 422, "data"),
        ("", 400, "not valid JSON"),
    ],
)
def test_bad_bodies_are_refused_and_named(client: TestClient, body: str, status: int, fragment: str) -> None:
    r = client.post("/api/scenarios", content=body)
    assert r.status_code == status and fragment in r.json()["detail"], r.json()


def test_a_body_over_the_upload_limit_is_413() -> None:
    with TestClient(create_app(Settings(max_upload_bytes=4096))) as c:
        doc = copy.deepcopy(sc.preset("xor"))
        doc["description"] = "x" * 3000
        assert upload(c, doc).status_code == 201
        doc["description"] = "x" * 4000
        r = upload(c, doc)
        assert r.status_code == 413 and "DELTAFLOW_MAX_UPLOAD_BYTES" in r.json()["detail"]
        chunked = c.post("/api/scenarios", content=iter([json.dumps(doc).encode()]))  # no Content-Length
        assert chunked.status_code == 413


def test_the_store_evicts_the_least_recently_used() -> None:
    store = ScenarioStore(limit=100)
    xor, circle, moons = (sc.parse(sc.preset(n)) for n in ("xor", "circle", "moons"))
    a, b = store.put("a", xor, 40), store.put("b", circle, 40)
    assert store.get(a) is xor  # a is now the most recently used
    c = store.put("c", moons, 40)
    assert store.get(b) is None and store.get(a) is xor and store.get(c) is moons
    assert store.size == 80
    with pytest.raises(ValueError, match="at most 100"):
        store.put("d", xor, 101)


# --- load by ref ---------------------------------------------------------------------------------
def test_load_by_ref_loads_the_stored_scenario(client: TestClient, conn: Conn) -> None:
    doc = copy.deepcopy(sc.preset("xor"))
    doc["name"] = "uploaded"
    key = upload(client, doc).json()["id"]
    conn.send({"type": "load", "ref": key})
    st = conn.welcome()
    assert st["scenario"] == sc.parse(doc).model_dump(mode="json", exclude_none=True)


def test_an_unknown_ref_changes_nothing(conn: Conn) -> None:
    before = conn.state()
    conn.send({"type": "load", "ref": "nosuchscenario0000000000000"})
    err = conn.until("error")
    assert err["code"] == "unknown_ref" and err["request"] == "load" and "load.ref" in err["message"]
    assert conn.state() == before


@pytest.mark.parametrize(
    "cmd", [{"type": "load", "ref": "abc", "preset": "xor"}, {"type": "load", "ref": "abc", "scenario": {}}]
)
def test_load_takes_exactly_one_source(conn: Conn, cmd: dict[str, Any]) -> None:
    conn.send(cmd)
    err = conn.until("error")
    assert err["code"] == "invalid_command" and "exactly one of scenario, preset and ref" in err["message"]


# --- the limits ------------------------------------------------------------------------------------
def test_the_worst_case_document_fits_the_documented_limits() -> None:
    # every value printed as long as a float64 prints: the largest a scenario within LIMITS gets
    doc = largest(longest_numbers=True)
    sc.parse(doc)
    s = Settings()
    indented = len(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    compact = len(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))
    assert indented <= s.max_upload_bytes  # indented too, as an editor might save it
    assert compact <= s.scenario_store_mb * 2**20 / 4  # the store holds at least four of them
    assert compact > s.max_message_bytes * 20  # far beyond one websocket message: why this path exists


def test_a_scenario_at_every_limit_loads_by_ref(client: TestClient, conn: Conn) -> None:
    doc = largest()
    body = json.dumps(doc).encode()
    assert len(body) > Settings().max_message_bytes
    r = client.post("/api/scenarios", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    conn.send({"type": "load", "ref": r.json()["id"]})
    st = conn.until("state")
    assert st["scenario"]["layers"] == doc["layers"] and st["scenario"]["frozen"] == ["W1", "b10"]
    ds = conn.until("dataset")
    # every example is in the run; the event shows the first rows within its size cap
    assert ds["train"]["size"] + ds["test"]["size"] == EXAMPLES and len(ds["train"]["x"][0]) == UNITS
    assert len(ds["train"]["x"]) == 65_536 // (2 * UNITS)
    registry = client.app.state.registry  # type: ignore[attr-defined]
    assert sum(len(s.trainer.x) for s in registry.sessions.values() if s.scenario.layers == doc["layers"]) == 9000
    # `state` sums the data up instead of repeating megabytes; a load of that document keeps it
    summary = st["scenario"]["data"]
    assert summary["omitted"] is True and (summary["train"], summary["test"]) == (9000, 1000)
    again = {**st["scenario"], "seed": 7}
    conn.send({"type": "load", "scenario": again})
    st2 = conn.until("state")
    assert st2["scenario"]["seed"] == 7 and st2["scenario"]["data"] == st["scenario"]["data"]
    assert ds["train"]["x"][0][:2] == doc["data"]["train"]["x"][0][:2]
