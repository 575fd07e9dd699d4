"""Safe on a shared network: the websocket's origin check, the page's CSP and headers, error
answers without internals, and the app under a reverse proxy's prefix."""

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app import cli
from app.session import commands
from app.session.session import Session
from app.web import main as web_main
from app.web.main import create_app
from app.web.security import canonical_origin, normalize_root_path, origin_allowed, parse_origins
from app.web.settings import Settings
from tests.web.conftest import Conn

# what an error text must never show: a traceback, a source file, a path on the server
LEAKS = re.compile(r"Traceback|File \"|\.py\b|/(?:usr|home|root|srv|tmp|work|site-packages)/")


# --- origins ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "origin, host, allowed, ok",
    [
        (None, "school.lan:8000", [], True),  # not a browser
        ("http://school.lan:8000", "school.lan:8000", [], True),
        ("http://SCHOOL.lan:8000", "school.LAN:8000", [], True),
        ("https://school.lan", "school.lan", [], True),  # TLS proxy: the app sees plain HTTP
        ("https://school.lan", "school.lan:443", [], True),
        ("http://school.lan", "school.lan:80", [], True),
        ("http://[::1]:8000", "[::1]:8000", [], True),
        ("http://evil.example", "school.lan:8000", [], False),
        ("http://school.lan:9000", "school.lan:8000", [], False),  # another port is another origin
        ("http://school.lan.evil.example:8000", "school.lan:8000", [], False),
        ("https://school.lan", "school.lan:8000", [], False),
        ("null", "school.lan:8000", [], False),  # sandboxed frames, file:// pages
        ("file://", "school.lan:8000", [], False),
        ("http://school.lan:8000/path", "school.lan:8000", [], False),
        ("http://user@school.lan:8000", "school.lan:8000", [], False),
        ("http://school.lan:99999", "school.lan:8000", [], False),
        ("http://school.lan:8000", None, [], False),
        ("http://school.lan:8000", "", [], False),
        ("https://deltaflow.school.example", "127.0.0.1:8000", ["https://deltaflow.school.example"], True),
        ("https://deltaflow.school.example:8443", "127.0.0.1:8000", ["https://deltaflow.school.example"], False),
        ("http://deltaflow.school.example", "127.0.0.1:8000", ["https://deltaflow.school.example"], False),
    ],
)
def test_origin_allowed(origin: str | None, host: str | None, allowed: list[str], ok: bool) -> None:
    assert origin_allowed(origin, host, parse_origins(allowed)) is ok


def test_origins_are_compared_in_one_canonical_form() -> None:
    assert canonical_origin("HTTPS://Example.ORG") == "https://example.org:443"
    assert canonical_origin("http://example.org:8000") == "http://example.org:8000"
    assert canonical_origin("http://[::1]:8000") == "http://[::1]:8000"
    assert canonical_origin("ws://example.org") is None
    assert parse_origins(" https://a.example/, http://b.lan:8000 ,") == ["https://a.example:443", "http://b.lan:8000"]


@pytest.mark.parametrize("bad", ["school.example", "https://a.example/lesson", "ftp://a.example", "https://"])
def test_a_bad_allowed_origin_is_refused_by_name(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELTAFLOW_ALLOWED_ORIGINS", f"https://ok.example,{bad}")
    with pytest.raises(ValueError, match=re.escape(repr(bad))) as err:
        Settings()
    assert "allowed_origins" in str(err.value)


def test_allowed_origins_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELTAFLOW_ALLOWED_ORIGINS", "https://a.example, http://b.lan:8000")
    assert Settings().allowed_origins == ["https://a.example:443", "http://b.lan:8000"]


@pytest.fixture
def app() -> FastAPI:
    return create_app(Settings(allowed_origins="https://deltaflow.school.example"))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def test_a_cross_site_websocket_is_refused_before_any_session_is_touched(client: TestClient, app: FastAPI) -> None:
    registry = app.state.registry
    with client.websocket_connect("/ws") as ws:
        sid = Conn(ws).welcome()["session"]
        s = registry.get(sid)
        before = (set(registry.sessions), len(s.subscribers))
        for origin in ["http://evil.example", "null", "http://testserver:8001"]:
            for path in ["/ws", f"/ws?session={sid}"]:
                with pytest.raises(WebSocketDisconnect) as closed:
                    with client.websocket_connect(path, headers={"origin": origin}):
                        pass
                assert closed.value.code == 1008
                assert (set(registry.sessions), len(s.subscribers)) == before


@pytest.mark.parametrize("origin", [None, "http://testserver", "https://deltaflow.school.example"])
def test_same_host_listed_and_non_browser_clients_are_served(client: TestClient, origin: str | None) -> None:
    headers = {"origin": origin} if origin else {}
    with client.websocket_connect("/ws", headers=headers) as ws:
        assert Conn(ws).welcome()["type"] == "state"


# --- the page: CSP, headers, no inline script ---------------------------------------------------
class PageAudit(HTMLParser):
    """Every script, every on* handler, style attribute and javascript: URL of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.handlers: list[str] = []
        self.styles: list[str] = []
        self.js_urls: list[str] = []
        self._script: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for k, v in attrs:
            if k.startswith("on"):
                self.handlers.append(f"<{tag} {k}>")
            if k == "style":
                self.styles.append(f"<{tag} style>")
            if v and re.sub(r"[\s\x00-\x1f]", "", v).lower().startswith("javascript:"):
                self.js_urls.append(f"<{tag} {k}>")
        if tag == "script":
            self._script, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None


def csp(header: str) -> dict[str, list[str]]:
    out = {}
    for d in header.split(";"):
        name, *values = d.split()
        out[name] = values
    return out


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_has_no_inline_script_or_handler_and_a_strict_csp(client: TestClient) -> None:
    r = client.get("/")
    audit = PageAudit()
    audit.feed(r.text)
    policy = csp(r.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert set(policy["img-src"]) == {"'self'", "data:", "blob:"}
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert not audit.handlers, f"inline event handlers: {audit.handlers}"
    assert not audit.styles, f"style attributes (blocked by style-src 'self'): {audit.styles}"
    assert not audit.js_urls, f"javascript: URLs: {audit.js_urls}"
    inline = [(a, t) for a, t in audit.scripts if "src" not in a]
    assert [a.get("type") for a, _ in inline] == ["importmap"], "the only inline script is the import map"
    hashes = [v for v in policy["script-src"] if v.startswith("'sha")]
    assert hashes == [sha256(inline[0][1])], "the CSP allows exactly the served import map"
    assert all(a.get("type") == "module" for a, t in audit.scripts if "src" in a)


def test_the_audit_finds_what_it_looks_for() -> None:
    audit = PageAudit()
    audit.feed('<script>x()</script><img src=x onerror="y()"><a href=" JaVa\tscript:z()" style="color:red">')
    assert audit.scripts == [({}, "x()")]
    assert audit.handlers == ["<img onerror>"] and audit.js_urls == ["<a href>"] and audit.styles == ["<a style>"]


@pytest.mark.parametrize("path", ["/healthz", "/api/presets", "/static/app.js", "/nope", "/openapi.json"])
def test_every_response_carries_nosniff_and_a_referrer_policy(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"


def test_static_files_are_served_with_their_real_types(client: TestClient) -> None:
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/css/app.css").headers["content-type"].startswith("text/css")


# --- errors -------------------------------------------------------------------------------------
def test_http_errors_carry_no_trace_no_path_and_no_echo(app: FastAPI) -> None:
    @app.get("/test-boom")
    async def boom() -> None:
        raise RuntimeError(f"failed reading {__file__}")

    @app.get("/test-count/{n}")
    async def count(n: int) -> int:
        return n

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/test-boom")
        assert r.status_code == 500 and r.json() == {"detail": "the server could not answer this request"}
        assert r.headers["x-content-type-options"] == "nosniff"
        bad = c.get("/test-count/<img src=x onerror=alert(1)>")
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["path", "n"] and "integer" in bad.json()["detail"][0]["msg"]
        assert "<img" not in bad.text  # the input is not echoed
        missing = c.get("/api/presets/../../etc/passwd")
        for resp in (r, bad, missing, c.get("/static/../pyproject.toml"), c.post("/healthz")):
            assert not LEAKS.search(resp.text), resp.text
            assert resp.headers["content-type"] == "application/json"


def test_websocket_errors_carry_no_trace_and_no_path(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: Session, cmd: Any) -> None:
        raise RuntimeError(f"failed in {__file__}")

    monkeypatch.setitem(commands.HANDLERS, "next", broken)
    with client.websocket_connect("/ws") as ws:
        c = Conn(ws)
        c.welcome()
        sent: list[str | bytes] = [
            "{",
            "[]",
            '{"type": "nope"}',
            '{"type": "load", "scenario": {"layers": "x"}}',
            '{"type": "load", "preset": "../../etc/passwd"}',
            '{"type": "seek", "step": 99}',
            '{"type": "next"}',
            b"\xff\xfe",
        ]
        errors = []
        for msg in sent:
            if isinstance(msg, bytes):
                ws.send_bytes(msg)
            else:
                ws.send_text(msg)
            errors.append(c.until("error"))
        assert [e for e in errors if LEAKS.search(e["message"])] == []
        internal = [e["message"] for e in errors if e["code"] == "internal"]
        assert internal == ["the server could not carry out this command"]  # the one that raised


# --- root path ----------------------------------------------------------------------------------
def page_urls(html: str) -> list[str]:
    """Every URL the page loads: links, scripts, and both sides of the import map."""
    urls = re.findall(r'(?:src|href)="([^"#]+)"', html)
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    return [u for u in urls if not u.startswith("data:")] + [*imports["imports"], *imports["imports"].values()]


@pytest.mark.parametrize("stripped", [True, False], ids=["proxy-strips-prefix", "proxy-keeps-prefix"])
def test_the_page_works_under_a_root_path(stripped: bool) -> None:
    app = create_app(Settings(root_path="/deltaflow/"))
    base = "http://testserver/deltaflow/?preset=xor"
    # what the app receives for a public URL, as a proxy that strips the prefix or not passes it
    local = (lambda u: u.removeprefix("/deltaflow")) if stripped else (lambda u: u)
    with TestClient(app) as c:
        r = c.get(local("/deltaflow/"))
        assert r.status_code == 200
        urls = page_urls(r.text)
        # the one absolute URL is the page's <base>: the app's root, so /r/CODE resolves the same
        assert '<base href="/deltaflow/">' in r.text
        urls = [u for u in urls if u != "/deltaflow/"]
        assert urls and not [u for u in urls if u.startswith("/")], "every page URL is relative"
        for u in urls:
            public = urlsplit(urljoin(base, u))
            # the scripts and styles, and the preset picker's pictures
            assert public.path.startswith(("/deltaflow/static/", "/deltaflow/api/presets/")), u
            assert c.get(local(public.path) + "?" + public.query).status_code == 200, u
        # what static/socket.js and static/controls.js ask for, relative to the page
        assert c.get(local(urlsplit(urljoin(base, "api/presets/xor")).path)).json()["name"] == "xor"
        with c.websocket_connect(local(urlsplit(urljoin(base, "ws")).path)) as ws:
            assert Conn(ws).welcome()["type"] == "state"
        assert c.get("/openapi.json" if stripped else "/deltaflow/openapi.json").json()["servers"] == [
            {"url": "/deltaflow"}
        ]


def test_the_bare_root_path_redirects_to_the_page_keeping_its_query() -> None:
    with TestClient(create_app(Settings(root_path="/deltaflow"))) as c:
        r = c.get("/deltaflow?preset=xor", follow_redirects=False)
        assert r.status_code in (307, 308) and r.headers["location"] == "/deltaflow/?preset=xor"
        assert r.headers["x-content-type-options"] == "nosniff"


def test_the_page_works_with_the_servers_root_path_too() -> None:
    """As `uvicorn --root-path` runs it: the ASGI root_path set by the server, the setting unset."""
    with TestClient(create_app(Settings()), root_path="/deltaflow") as c:
        r = c.get("/deltaflow/")
        for u in page_urls(r.text):
            public = urlsplit(urljoin("http://testserver/deltaflow/", u))
            assert c.get(public.path + "?" + public.query).status_code == 200, u


@pytest.mark.parametrize(
    "value, want",
    [("", ""), ("/", ""), ("/deltaflow", "/deltaflow"), ("deltaflow/", "/deltaflow"), ("/a/b-c.d", "/a/b-c.d")],
)
def test_root_paths_are_normalized(value: str, want: str) -> None:
    assert normalize_root_path(value) == want


@pytest.mark.parametrize("bad", ["/a b", "/a?x=1", "/a#b", "//evil.example", "/a/../b"])
def test_a_bad_root_path_is_refused_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="root_path"):
        Settings(root_path=bad)


def test_serve_takes_a_root_path(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(web_main, "run", lambda **kw: calls.append(kw))
    assert cli.main(["serve", "--root-path", "/deltaflow/"]) == 0
    assert calls == [{"host": None, "port": None, "root_path": "/deltaflow", "workers": 1, "redis_url": None}]
    with pytest.raises(SystemExit) as bad:
        cli.main(["serve", "--root-path", "/a b"])
    assert bad.value.code == 2 and "is not a root path" in capsys.readouterr().err
