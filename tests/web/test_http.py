"""The HTTP surface: health, presets, the protocol schema, the page and its static files."""

import re

import pytest
from fastapi.testclient import TestClient

from app import protocol
from app import scenario as sc
from app.web.main import create_app
from app.web.settings import Settings


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {
        "status": "ok",
        "reasons": [],
        "sessions": 0,
        "max_sessions": 500,
        "attached_sessions": 0,
        "connections": 0,
    }


def test_presets_list_and_documents(client: TestClient) -> None:
    listed = client.get("/api/presets").json()
    assert [p["name"] for p in listed] == sc.preset_names()
    assert all(p["title"] and p["description"] for p in listed)
    doc = client.get("/api/presets/worked-example").json()
    assert doc["layers"] == [2, 2, 2] and sc.parse(doc).name == "worked-example"
    missing = client.get("/api/presets/nope")
    assert missing.status_code == 404 and "worked-example" in missing.json()["detail"]


def test_protocol_schema_names_every_command_and_event(client: TestClient) -> None:
    schema = client.get("/api/protocol.json").json()
    assert sorted(schema["commands"]["discriminator"]["mapping"]) == protocol.COMMAND_TYPES
    assert sorted(schema["events"]["discriminator"]["mapping"]) == protocol.EVENT_TYPES
    assert "from" in schema["commands"]["$defs"]["SetWeight"]["properties"]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_when_turned_on_load_nothing_from_elsewhere(path: str) -> None:
    with TestClient(create_app(Settings(api_docs=True))) as client:
        page = client.get(path)
        assert page.status_code == 200
        urls = re.findall(r'(?:src|href|url)\s*[=:]\s*["\']([^"\']+)', page.text)
        assert any(u.endswith(".js") for u in urls), urls
        for url in urls:
            assert url.startswith("/"), f"{path} loads {url} from another site"
            assert client.get(url).status_code == 200, url
        assert "fonts.googleapis" not in page.text and "validator.swagger.io" not in page.text
        assert '"validatorUrl": null' in page.text or path == "/redoc"


def test_api_docs_are_off_by_default_and_the_schema_stays(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "Deltaflow"


def test_page_links_hashed_static_files_that_exist(client: TestClient) -> None:
    html = client.get("/").text
    assert "<html" in html.lower()
    import re

    urls = re.findall(r'(?:src|href)="(\./static/[^"]+)"', html)
    assert urls, "the page loads its scripts and styles from static/, beside itself"
    for url in urls:
        assert "?v=" in url
        assert client.get(url.removeprefix(".")).status_code == 200, url
