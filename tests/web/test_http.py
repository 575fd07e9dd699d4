"""The HTTP surface: health, presets, the protocol schema, the page and its static files."""

from fastapi.testclient import TestClient

from app import protocol
from app import scenario as sc


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


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


def test_openapi_schema_is_served_without_the_cdn_docs_pages(client: TestClient) -> None:
    assert client.get("/openapi.json").json()["info"]["title"] == "Deltaflow"
    assert client.get("/docs").status_code == 404  # its scripts come from a CDN, which the CSP forbids


def test_page_links_hashed_static_files_that_exist(client: TestClient) -> None:
    html = client.get("/").text
    assert "<html" in html.lower()
    import re

    urls = re.findall(r'(?:src|href)="(\./static/[^"]+)"', html)
    assert urls, "the page loads its scripts and styles from static/, beside itself"
    for url in urls:
        assert "?v=" in url
        assert client.get(url.removeprefix(".")).status_code == 200, url
