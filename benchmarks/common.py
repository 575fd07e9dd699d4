"""What every benchmark shares: the server subprocess, the websocket client, message texts and
small helpers. Nothing here imports numpy or the app, so the classroom clients start light."""

import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

HOST = "127.0.0.1"
if str(ROOT) not in sys.path:  # run as a script: tests/ is a package beside benchmarks/
    sys.path.insert(0, str(ROOT))

from tests.live import free_port, stop  # noqa: E402  (the same helpers the tests start servers with)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP = '{"type":"step"}'
PAUSE = '{"type":"pause"}'
REJECTED = '{"type":"benchmark"}'  # an unknown type: answered at once with one `error` event
TRAIN = '{"type":"play","mode":"train","fps":30}'
FRAME_PREFIX = '{"type":"frame"'
ERROR_PREFIX = '{"type":"error"'
EPOCH_PREFIX = '{"type":"epoch"'
RECV_TIMEOUT = 10.0  # seconds; a server that stops answering fails the run instead of hanging it


@dataclass
class Budget:
    """How long each part runs; --quick keeps the whole run within 45 s."""

    steps: int  # timed steps of the latency rows (after warm-up)
    train_seconds: float
    engine_seconds: float  # per engine-level comparison
    browser_seconds: float
    warmup_steps: int = 50
    warmup_seconds: float = 1.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile with linear interpolation between ranks (numpy's default)."""
    xs = sorted(values)
    if not xs:
        raise ValueError("percentile of no values")
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def take(dst: dict[str, Any], src: dict[str, Any], **names: str) -> None:
    """dst[new] = src[old] for each new=old."""
    for new, old in names.items():
        dst[new] = src[old]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the server ---------------------------------------------------------------------------------
# the probes send back to back and connect from one address, beyond what one person would
UNLIMITED = {
    "DELTAFLOW_MESSAGE_RATE": "1000000",
    "DELTAFLOW_MESSAGE_BURST": "1000000",
    "DELTAFLOW_CONNECT_BURST": "1000000",
}


class Server:
    """`deltaflow serve` as a subprocess on a free port, ready once /healthz answers."""

    def __init__(self, env: dict[str, str] | None = None, module: str = "app.cli") -> None:
        self.module = module  # `python -m module serve ...`: the CLI, or a benchmark's wrapper of it
        self.folder = tempfile.TemporaryDirectory()  # sessions are saved, as in use, but not in the user's files
        db = {"DELTAFLOW_DB": str(Path(self.folder.name) / "deltaflow.db")}
        self.env = {**os.environ, **UNLIMITED, **db, **(env or {})}
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.ws_url = f"ws://{HOST}:{self.port}/ws"
        self.log = tempfile.TemporaryFile()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Server":
        cmd = [sys.executable, "-m", self.module, "serve", "--host", HOST, "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(OSError):
                with opener.open(self.base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"the server did not come up:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop(self.proc)
        self.folder.cleanup()


# --- the client ---------------------------------------------------------------------------------
async def connect(url: str, load: dict[str, Any] | None = None) -> Any:
    """A new session, past its welcome (state, dataset, epoch, maps) and an optional load."""
    from websockets.asyncio.client import connect as ws_connect

    # the server disables per-message deflate; no proxy on loopback; no keepalive pings to skew rows
    ws = await ws_connect(url, compression=None, max_size=None, proxy=None, ping_interval=None)
    await until_maps(ws)
    if load is not None:
        await ws.send(json.dumps({"type": "load", **load}))
        await until_maps(ws)
    return ws


class ServerError(RuntimeError):
    """The server answered a benchmark command with an `error` event, or stopped answering."""


async def recv(ws: Any) -> str | bytes:
    try:
        m: str | bytes = await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)
    except TimeoutError:
        raise ServerError(f"no message from the server in {RECV_TIMEOUT:g} s") from None
    return m


async def until_maps(ws: Any, last_event: str | None = None) -> tuple[int, float]:
    """Read up to and including the next binary maps message: the number of text messages
    before it, and when the text message starting with `last_event` arrived (else 0)."""
    texts, t_event = 0, 0.0
    while True:
        m = await recv(ws)
        if isinstance(m, bytes):
            if m[:4] != b"DFM1":
                raise ServerError("a binary message that is not a maps message")
            return texts, t_event
        if m.startswith(ERROR_PREFIX):
            raise ServerError(m[:400])
        if last_event and m.startswith(last_event):
            t_event = time.perf_counter()
        texts += 1
