"""The page, with content-hashed static URLs so browsers reload what changed."""

import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app import scenario as sc
from app.session import memory

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
templates = Jinja2Templates(directory=ROOT / "templates")
router = APIRouter()
_hashes: dict[str, tuple[float, str]] = {}


def static_url(path: str) -> str:
    """/static/PATH?v=HASH, the hash of the file's content (recomputed when it changes)."""
    f = STATIC / path
    mtime = f.stat().st_mtime
    cached = _hashes.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, hashlib.sha256(f.read_bytes()).hexdigest()[:10])
        _hashes[path] = cached
    return f"/static/{path}?v={cached[1]}"


def preset_list() -> list[dict[str, str]]:
    out = []
    for name in sc.preset_names():
        doc = sc.preset(name)
        out.append({"name": name, "title": doc.get("title") or name, "description": doc.get("description", "")})
    return out


def render(request: Request, room: str = "", status_code: int = 200) -> HTMLResponse:
    """The page; with `room`, it follows that classroom room."""
    settings = request.app.state.settings
    return templates.TemplateResponse(
        request,
        "index.html",
        {"static_url": static_url, "presets": preset_list(), "default_preset": settings.default_preset, "room": room},
        status_code=status_code,
    )


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request) -> HTMLResponse:
    return render(request)


DEGRADED_AT = 0.9  # sessions as a share of the maximum


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    """ "ok", or "degraded" with its reasons: sessions near their limit, memory near its budget,
    a full disk; the counts."""
    registry = request.app.state.registry
    counts = registry.counts()
    reasons = []
    if counts["sessions"] >= DEGRADED_AT * counts["max_sessions"]:
        reasons.append(f"sessions: {counts['sessions']} of at most {counts['max_sessions']}")
    reasons += memory.reasons(registry.options.memory_bytes)
    if registry.saver is not None:
        reasons += registry.saver.reasons()
    return {"status": "degraded" if reasons else "ok", "reasons": reasons, **counts}
