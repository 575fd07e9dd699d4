"""A real server, as `deltaflow serve` runs it, in its own process on a free loopback port."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop(proc: "subprocess.Popen[Any]", grace: float = 10) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; reaped either way (or its Popen warns). Then
    whatever is left of its process group (a server started by server() leads one): a worker
    whose supervisor was killed would otherwise live on."""
    leads = False
    with contextlib.suppress(ProcessLookupError):
        leads = os.getpgid(proc.pid) == proc.pid
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if leads:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class Server:
    """A running server: its base URL and its process (to signal it)."""

    url: str
    proc: subprocess.Popen[str]


@contextmanager
def serve(
    timeout: float = 20.0, env: dict[str, str] | None = None, log: IO[str] | None = None, args: Sequence[str] = ()
) -> Iterator[str]:
    """Yields the base URL once /healthz answers; stops the server afterwards.

    `env` adds DELTAFLOW_* settings; `log`, a file, receives the server's output (its logs);
    `args` go to `deltaflow serve`.
    """
    with server(timeout, env, log, args) as srv:
        yield srv.url


@contextmanager
def server(
    timeout: float = 20.0, env: dict[str, str] | None = None, log: IO[str] | None = None, args: Sequence[str] = ()
) -> Iterator[Server]:
    """As serve(), yielding the Server; a test may kill its process itself."""
    port = free_port()
    cmd = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    out = log if log is not None else subprocess.DEVNULL
    err = subprocess.STDOUT if log is not None else subprocess.PIPE
    env = {**os.environ, **(env or {})}
    # a process group of its own, so stop() can end its workers whatever becomes of it
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, text=True, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise RuntimeError(
                        f"the server did not start: {proc.stderr.read() if proc.stderr else ''}"
                    ) from None
                time.sleep(0.1)
        yield Server(url, proc)
    finally:
        stop(proc)
        if proc.stderr:
            proc.stderr.close()


@contextmanager
def in_thread(app: Any, **config: Any) -> Iterator[int]:
    """`app` served by uvicorn in a thread of this process, with the server's own websocket
    protocol (app/web/wire.py), so a test can reach inside it; yields the port."""
    import threading

    import uvicorn

    from app.web import wire
    from app.web.upgrade import HTTP_PROTOCOL

    port = free_port()
    cfg = uvicorn.Config(app, port=port, http=HTTP_PROTOCOL, ws=wire.WS_PROTOCOL, log_level="warning", **config)
    srv = uvicorn.Server(cfg)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        threading.Event().wait(0.02)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(10)


def post_json(url: str, body: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    """POST `body` as JSON; the JSON answer."""
    import json

    req = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        out: dict[str, Any] = json.loads(r.read())
        return out


def get_json(url: str, timeout: float = 30) -> dict[str, Any]:
    import json

    with urllib.request.urlopen(url, timeout=timeout) as r:
        out: dict[str, Any] = json.loads(r.read())
        return out
