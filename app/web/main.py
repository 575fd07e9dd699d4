"""The app: created once, its sessions and trainer set up in the lifespan."""

import asyncio
import contextlib
import ctypes
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError

from app import __version__, lessons
from app.session import memory, replica
from app.session.cluster import Cluster
from app.session.directory import Directory
from app.session.persist import Saver
from app.session.registry import Registry
from app.session.session import Options
from app.web import api, logs, netinfo, pages, rooms, security, ws
from app.web.apidocs import add_api_docs
from app.web.limits import AddressLimiter
from app.web.settings import Settings, get_settings
from app.web.upgrade import HTTP_PROTOCOL
from app.web.wire import WS_PROTOCOL

SHUTDOWN_SECONDS = 5  # at most, for the connections to close at SIGTERM; then the sessions are saved


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    lessons.configure(settings.lessons or None)  # a teacher's lesson that fails stops the start, naming it

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # a worker thread computing a gradcheck hands the GIL back to the event loop every 0.5 ms
        sys.setswitchinterval(0.0005)
        logs.install()  # after the server has configured logging
        options = Options(
            history_steps=settings.history_steps,
            history_bytes=int(settings.history_mb * 2**20),
            slice_seconds=settings.slice_ms / 1000,
            outbox_limit=settings.outbox_limit,
            frame_rate=settings.frame_rate,
            viewer_bytes_per_s=settings.viewer_bytes_per_second,
            memory_bytes=memory.budget_bytes(settings.memory_mb),
        )
        rooms = Directory(settings.max_rooms, settings.room_idle_seconds, settings.room_max_viewers)
        saver = Saver(settings.db, settings.save_seconds, settings.session_retention_days)
        saver.prune()
        registry = Registry(
            options, settings.default_preset, settings.session_idle_seconds, settings.max_sessions, rooms, saver
        )
        app.state.registry = registry
        cluster = await join_cluster(settings.redis_url, registry) if settings.redis_url else None
        app.state.cluster = cluster
        tasks = [
            asyncio.create_task(registry.scheduler.run()),
            asyncio.create_task(registry.reap()),
            asyncio.create_task(saver.run(registry)),
            asyncio.create_task(saver.prune_daily()),
        ]
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            registry.close()  # every session saved and written before the process exits
            await replica.close()
            if cluster is not None:  # then other workers may take its rooms over
                await cluster.close()

    app = FastAPI(title="Deltaflow", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.addresses = AddressLimiter(settings.connect_per_minute, settings.connect_burst)
    security.install(app, settings.root_path)
    if settings.api_docs:
        add_api_docs(app)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(rooms.router)
    app.include_router(ws.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    return app


async def join_cluster(url: str, registry: Registry) -> Cluster:
    """This worker's Cluster, started; a clear error when Redis cannot be reached."""
    cluster = Cluster(url, registry)
    try:
        await cluster.start()
    except (RedisError, OSError) as e:
        await cluster.close()
        raise RuntimeError(f"DELTAFLOW_REDIS_URL: cannot reach Redis at {url}: {e}") from None
    return cluster


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


def urls(host: str, port: int) -> list[str]:
    """Where the app can be opened: this machine, then (on every interface) the network's addresses."""
    if not netinfo.is_wildcard(host):
        return [f"http://{host}:{port}"]
    return [f"http://127.0.0.1:{port}"] + [f"http://{a}:{port}" for a in netinfo.lan_addresses()]


def run(
    host: str | None = None,
    port: int | None = None,
    root_path: str | None = None,
    workers: int = 1,
    redis_url: str | None = None,
    lessons_dir: str | None = None,
) -> None:
    """Serve in this process, or in `workers` processes that share rooms through Redis
    (ValueError when workers > 1 and no Redis URL is given)."""
    s = get_settings()
    s = s.model_copy(update={"host": host or s.host, "port": port or s.port})
    if lessons_dir is not None:
        s = s.model_copy(update={"lessons": lessons_dir})
    if root_path is not None:
        s = s.model_copy(update={"root_path": security.normalize_root_path(root_path)})
    if redis_url is not None:
        s = s.model_copy(update={"redis_url": redis_url})
    if workers > 1 and not s.redis_url:
        raise ValueError(
            f"--workers {workers} needs Redis to share rooms between the workers: "
            "give --redis redis://HOST:PORT or set DELTAFLOW_REDIS_URL"
        )
    keep_freed_memory()
    found = urls(s.host, s.port)
    print(f"Deltaflow on this machine: {found[0]}", flush=True)
    for u in found[1:]:
        print(f"  from other machines on the network: {u}", flush=True)
    app: Any = create_app(s) if workers == 1 else "app.web.main:create_app"
    if workers > 1:  # each worker process builds its app from the environment
        os.environ.update(
            DELTAFLOW_HOST=s.host,
            DELTAFLOW_PORT=str(s.port),
            DELTAFLOW_ROOT_PATH=s.root_path,
            DELTAFLOW_REDIS_URL=s.redis_url,
        )
        if s.lessons:
            os.environ["DELTAFLOW_LESSONS"] = s.lessons
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=s.host,
        port=s.port,
        http=HTTP_PROTOCOL,  # answers a command sent in the same packet as the upgrade
        ws=WS_PROTOCOL,  # lets a message's frame be written once for all its subscribers
        ws_per_message_deflate=False,  # deflate costs ~10x throughput on map frames
        ws_max_size=s.max_message_bytes,
        server_header=False,  # no need to tell a prober what serves the app
        # a client that stopped reading keeps its connection open: past this, shutdown goes on
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
    )
