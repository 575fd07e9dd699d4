"""What makes the server safe to share on a network: the websocket's origin check, the
security headers of every response, a root path behind a reverse proxy, and error answers
that never carry a stack trace or a file path.

docs/deploy.md documents every choice made here.
"""

import base64
import hashlib
import logging
import re
from collections.abc import Collection, Iterable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

log = logging.getLogger("deltaflow.security")

DEFAULT_PORTS = {"http": 80, "https": 443}
ROOT_PATH = re.compile(r"(/(?!\.\.?(?:/|$))[A-Za-z0-9._~-]+)*")  # no . or .. segment


# --- origins --------------------------------------------------------------------------------
def _host_port(netloc: str, default_port: int) -> tuple[str, int] | None:
    """'Host:8000' -> ('host', 8000); the default port where none is given; None if malformed."""
    try:
        parts = urlsplit("//" + netloc)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.password is not None or parts.path:
        return None
    return parts.hostname.lower(), default_port if port is None else port


def canonical_origin(origin: str) -> str | None:
    """'HTTPS://Example.org' -> 'https://example.org:443'; None for anything that is not an
    http(s) origin (RFC 6454: scheme, host and port, nothing else), "null" included."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or parts.path or parts.query or parts.fragment:
        return None
    hp = _host_port(parts.netloc, DEFAULT_PORTS[scheme])
    if hp is None:
        return None
    host, port = hp
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def parse_origins(value: str | Iterable[str]) -> list[str]:
    """'https://a.org, http://b.lan:8000' -> canonical origins; ValueError naming a bad entry."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        c = canonical_origin(item.removesuffix("/"))
        if c is None:
            raise ValueError(f"{item!r} is not an origin: give scheme://host[:port], e.g. https://school.example")
        out.append(c)
    return out


def origin_allowed(origin: str | None, host: str | None, allowed: Collection[str] = ()) -> bool:
    """Whether a websocket opened from `origin` may reach this server, which the client
    reached as `host` (its Host header).

    No Origin: not a browser (browsers always send one on a websocket), so nothing to hijack.
    Otherwise the origin's host and port must be those of the Host header (the scheme is not
    compared: behind a TLS proxy the app sees plain HTTP) or the origin must be listed in
    `allowed` (canonical, from parse_origins).
    """
    if origin is None:
        return True
    o = canonical_origin(origin)
    if o is None:
        return False
    if o in allowed:
        return True
    if host is None:
        return False
    scheme = o.split(":", 1)[0]
    served = _host_port(host, DEFAULT_PORTS[scheme])
    ours = _host_port(o.split("//", 1)[1], DEFAULT_PORTS[scheme])
    return served is not None and served == ours


async def check_origin(ws: WebSocket) -> bool:
    """Refuse a cross-site websocket before it is accepted (the client sees HTTP 403).

    Call first in a websocket handler; False means the connection is closed and nothing
    else may be done with it.
    """
    origin, host = ws.headers.get("origin"), ws.headers.get("host")
    allowed = ws.app.state.settings.allowed_origins
    if origin_allowed(origin, host, allowed):
        return True
    log.warning("refused a websocket from origin %r to host %r (see DELTAFLOW_ALLOWED_ORIGINS)", origin, host)
    await ws.close(1008)
    return False


# --- headers --------------------------------------------------------------------------------
def script_hash(text: str) -> str:
    """The CSP source that allows one inline script with exactly this text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    """The page's policy: everything from this origin only, no inline script but the hashed
    ones, no inline style (the page sets styles only through element.style, which CSP
    allows), images also from data: and blob: (map canvases and the PNG export), never framed."""
    script = " ".join(["'self'", *script_hashes])
    return (
        "default-src 'self'; "
        f"script-src {script}; "
        "style-src 'self'; "
        "img-src 'self' data: blob:; "
        "connect-src 'self'; "
        "object-src 'none'; "
        "base-uri 'self'; "  # the page's <base> puts its relative URLs at the app's root, also from /r/CODE
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
HTML_HEADERS = [(b"content-security-policy", content_security_policy().encode()), (b"x-frame-options", b"DENY")]


class SecurityHeaders:
    """Adds nosniff and Referrer-Policy to every HTTP response, and to every HTML response a
    CSP (unless its route set its own, as the page does for its import map) and X-Frame-Options."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                extra = HEADERS + (HTML_HEADERS if html else [])
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- root path ------------------------------------------------------------------------------
def normalize_root_path(value: str) -> str:
    """'/deltaflow/' -> '/deltaflow'; '' and '/' -> ''; ValueError for anything else."""
    v = value.strip().rstrip("/")
    if v and not v.startswith("/"):
        v = "/" + v
    if not ROOT_PATH.fullmatch(v):
        raise ValueError(f"{value!r} is not a root path: give a URL path such as /deltaflow")
    return v


class RootPath:
    """Serves the app under `root`, whether the reverse proxy strips that prefix or not.

    The page's URLs are all relative, so it needs no knowledge of the prefix; this sets the
    ASGI root_path (OpenAPI and redirects use it) and sends `root` itself to `root/`, where the
    page's relative URLs resolve under the prefix.
    """

    def __init__(self, app: ASGIApp, root: str) -> None:
        self.app, self.root = app, root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.root:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == self.root and scope["type"] == "http":
            query = scope.get("query_string", b"").decode("latin-1")
            await RedirectResponse(self.root + "/" + (f"?{query}" if query else ""))(scope, receive, send)
            return
        scope = {**scope, "root_path": self.root}
        if not path.startswith(self.root + "/"):  # the proxy stripped the prefix
            scope["path"] = self.root + path
            scope["raw_path"] = self.root.encode() + scope.get("raw_path", path.encode())
        await self.app(scope, receive, send)


# --- errors ---------------------------------------------------------------------------------
async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Any unhandled exception: logged in full on the server, one fixed sentence to the client."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    # answered outside the middleware stack, so it carries its own headers
    headers = {k.decode(): v.decode() for k, v in HEADERS}
    return JSONResponse({"detail": "the server could not answer this request"}, status_code=500, headers=headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A request that does not validate: where and what, without echoing the input back."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"loc": list(e["loc"]), "msg": str(e["msg"]), "type": str(e["type"])} for e in errors]
    return JSONResponse({"detail": detail}, status_code=422)


def install(app: FastAPI, root_path: str = "") -> None:
    """Error answers and security headers on `app`; the root path where one is set."""
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, internal_error)
    if root_path:
        app.add_middleware(RootPath, root=root_path)
    app.add_middleware(SecurityHeaders)  # outermost: redirects get the headers too
