"""The page, with content-hashed static URLs so browsers reload what changed.

Every URL the page holds is relative to the page itself, so it works unchanged under any
prefix a reverse proxy serves it at (docs/deploy.md).
"""

import hashlib
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app import scenario as sc
from app.session import memory
from app.web.security import content_security_policy, script_hash

ROOT = Path(__file__).resolve().parents[2]


def _assets(name: str) -> Path:
    """static/ or templates/: beside app/ in the source tree, inside app/ when installed from a wheel."""
    packaged = ROOT / "app" / name
    return packaged if packaged.is_dir() else ROOT / name


STATIC = _assets("static")
templates = Jinja2Templates(directory=_assets("templates"))
router = APIRouter()
_hashes: dict[str, tuple[float, str]] = {}

# every ES module of the page; the import map sends each plain path to its hashed URL
MODULES = [
    *("app.js", "store.js", "socket.js", "controls.js", "settings.js", "export.js", "drop.js", "upload.js"),
    *("math.js", "util.js"),
    *("schedule.js", "wire.js"),
    *("views/network.js", "views/heatmap.js", "views/chart.js", "views/gradnorm.js", "views/explain.js"),
    *("views/examples.js", "views/log.js", "views/status.js", "views/room.js", "views/intro.js"),
    *("link.js", "views/classes.js", "pace.js", "names.js", "words.js"),
    *("morph.js", "lazy.js", "views/netlayers.js", "views/netlabels.js", "paint.js", "views/health.js", "roomgate.js"),
]
# modules the page imports only when first needed (a panel first seen, a first export): in the
# import map, but not preloaded, so a page that never needs them never fetches them
LAZY = [
    *("views/equations.js", "views/mathml.js", "views/deltas.js", "views/lesson.js", "lessons.js", "export.js"),
    *("upload.js", "views/room.js"),
    *("wire.js", "points.js", "views/netremote.js", "views/nettip.js", "archedit.js", "words.js"),
    *("models.js", "views/examples.js", "views/explain.js", "morph.js"),
    *("views/compare.js", "views/breakpoints.js", "views/graph.js", "views/health.js", "views/gradnorm.js"),
]
PRELOAD = [m for m in MODULES if m not in LAZY]
MODULES += [m for m in LAZY if m not in MODULES]


def static_url(path: str) -> str:
    """./static/PATH?v=HASH, relative to the page; the hash is of the file's content (recomputed when it changes)."""
    f = STATIC / path
    mtime = f.stat().st_mtime
    cached = _hashes.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, hashlib.sha256(f.read_bytes()).hexdigest()[:10])
        _hashes[path] = cached
    return f"./static/{path}?v={cached[1]}"


def import_map() -> str:
    """The page's import map. Browsers take an import map only inline (an external one is not
    supported), so the page's CSP allows exactly this text by its hash."""
    return json.dumps({"imports": {f"./static/{m}": static_url(m) for m in MODULES}}, separators=(",", ":"))


def preset_list() -> list[dict[str, str]]:
    out = []
    for name in sc.preset_names():
        doc = sc.preset(name)
        out.append({"name": name, "title": doc.get("title") or name, "description": doc.get("description", "")})
    return out


def render(request: Request, room: str = "", status_code: int = 200) -> HTMLResponse:
    """The page; with `room`, it follows that classroom room."""
    settings = request.app.state.settings
    imports = import_map()
    response = templates.TemplateResponse(
        request,
        "index.html",
        {
            "static_url": static_url,
            "modules": PRELOAD,
            "import_map": imports,
            "presets": preset_list(),
            "default_preset": settings.default_preset,
            "room": room,
            # relative URLs resolve against the app's root, also from /r/CODE
            "base": request.scope.get("root_path", "").rstrip("/") + "/",
        },
        status_code=status_code,
    )
    response.headers["Content-Security-Policy"] = content_security_policy([script_hash(imports)])
    return response


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
