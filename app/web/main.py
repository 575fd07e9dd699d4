"""The app: created once, its sessions and trainer set up in the lifespan."""

import asyncio
import contextlib
import ctypes
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.session.registry import Registry
from app.session.session import Options
from app.web import api, pages, security, ws
from app.web.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        options = Options(
            history_steps=settings.history_steps,
            history_bytes=int(settings.history_mb * 2**20),
            slice_seconds=settings.slice_ms / 1000,
            outbox_limit=settings.outbox_limit,
            frame_rate=settings.frame_rate,
        )
        registry = Registry(options, settings.default_preset, settings.session_idle_seconds, settings.max_sessions)
        app.state.registry = registry
        tasks = [asyncio.create_task(registry.scheduler.run()), asyncio.create_task(registry.reap())]
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            registry.close()

    # no /docs or /redoc: those pages load their scripts from a CDN and run inline script,
    # which the page's CSP forbids; the schema stays at /openapi.json
    app = FastAPI(title="Deltaflow", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    security.install(app, settings.root_path)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(ws.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    return app


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory rather than trim it back to the kernel.

    The 100x100 map arrays are a few hundred KB; trimmed after every frame, each next frame
    page-faults them in again, which was most of its cost (0.51 -> 0.17 ms for circle).
    """
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_trim_threshold, 256 * 2**20)
    libc.mallopt(m_mmap_threshold, 64 * 2**20)


def run(host: str | None = None, port: int | None = None, root_path: str | None = None) -> None:
    s = get_settings()
    if root_path is not None:
        s = s.model_copy(update={"root_path": security.normalize_root_path(root_path)})
    keep_freed_memory()
    uvicorn.run(
        create_app(s),
        host=host or s.host,
        port=port or s.port,
        ws_per_message_deflate=False,  # deflate costs ~10x throughput on map frames
        ws_max_size=s.max_message_bytes,
        server_header=False,  # no need to tell a prober what serves the app
    )
