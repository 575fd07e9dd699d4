"""Measure Deltaflow against floors taken in the same run, and print a table and one JSON line.

    python benchmarks/run.py [--quick] [--no-browser] [--server-env KEY=VALUE ...]

Starts `python -m app.cli serve` (the `deltaflow serve` entry point) on a free loopback port,
drives it with one asyncio websocket client, times the engine and a hand-written numpy loop
in this process, and, when /usr/bin/chromium exists, the page in headless Chromium.
The machine is small and noisy, so every figure is a median or p99 over many samples and each
target compares against a floor measured in this same run. docs/performance.md explains them.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/run.py` puts benchmarks/ first, not the checkout

# `app` first, as in the server: it sets OPENBLAS_NUM_THREADS=1, which counts only before numpy loads
import app  # noqa: E402, F401, I001
import numpy as np  # noqa: E402

from app import scenario as sc  # noqa: E402
from app.nn.trainer import Trainer  # noqa: E402
from app.session import maps  # noqa: E402
from app.web.main import keep_freed_memory  # noqa: E402

HOST = "127.0.0.1"
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
EPOCH_FIELD = re.compile(r'"epoch":(\d+)')
RECV_TIMEOUT = 10.0  # seconds; a server that stops answering fails the run instead of hanging it
WATCHDOG = {True: 120.0, False: 900.0}  # the whole server part, quick and full
ERROR_PREFIX = '{"type":"error"'
EPOCH_PREFIX = '{"type":"epoch"'
SIZES = [[2, 4, 2, 1], [2, 8, 8, 1], [2, 16, 16, 16, 1], [2, 64, 64, 1]]
BATCHES = [1, 10, 50, None]  # None: the whole training set
SESSION_COUNTS = [1, 5, 20, 50]
BUSY_SESSIONS = 20

# (key, comparison, limit, floor key): met when key <op> limit * floor (limit alone without a floor)
TARGETS: list[tuple[str, str, float, str | None]] = [
    ("step_latency_p50_ms", "<=", 5.0, "ws_rtt_p50_ms"),
    ("train_epochs_per_s", ">=", 0.8, "numpy_floor_epochs_per_s"),
    ("frame_bytes", "<=", 32 * 1024, None),
    ("busy_step_latency_p99_ms", "<=", 10.0, None),
    ("grid_forward_ms", "<=", 1.0, None),
    ("engine_floor_step_ratio", "<=", 1.5, None),
    ("browser_fps_animate", ">=", 55.0, None),
    ("browser_fps_train", ">=", 55.0, None),
    ("page_bytes", "<=", 150_000, None),
]


@dataclass
class Budget:
    """How long each part runs; --quick keeps the whole run within 45 s."""

    steps: int  # timed steps of the latency rows (after warm-up)
    train_seconds: float
    engine_seconds: float  # per engine-level comparison
    browser_seconds: float
    warmup_steps: int = 50
    warmup_seconds: float = 1.0


QUICK = Budget(steps=250, train_seconds=3.0, engine_seconds=1.0, browser_seconds=3.0)
FULL = Budget(steps=1000, train_seconds=5.0, engine_seconds=2.0, browser_seconds=5.0)


# --- pure helpers (tests/test_benchmarks.py checks these) ----------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The q-th percentile with linear interpolation between ranks (numpy's default)."""
    xs = sorted(values)
    if not xs:
        raise ValueError("percentile of no values")
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def frame_epoch(text: str) -> int | None:
    """The `epoch` of a frame event, read without parsing the whole JSON."""
    m = EPOCH_FIELD.search(text)
    return int(m.group(1)) if m else None


def circle_doc(layers: list[int] | None = None, batch_size: int | None = None) -> dict[str, Any]:
    """The circle preset, optionally resized (tanh on every layer) or with another batch size."""
    doc = sc.preset("circle")
    if layers is not None:
        doc["layers"] = layers
        doc["activations"] = ["tanh"] * (len(layers) - 1)
    if batch_size is not None:
        doc["batch_size"] = batch_size
    return doc


def floor_epoch(
    ws: list[np.ndarray], bs: list[np.ndarray], x: np.ndarray, y: np.ndarray, batch: int, lr: float
) -> None:
    """One epoch of plain minibatch SGD (tanh on every layer, squared error), in place.

    The floor the engine is measured against: the same arithmetic with nothing around it.
    """
    depth = len(ws)
    for s in range(0, len(x), batch):
        a = x[s : s + batch]
        acts = [a]
        for w, b in zip(ws, bs):
            a = np.tanh(a @ w.T + b)
            acts.append(a)
        m = len(a)
        d = (a - y[s : s + batch]) * (1.0 - a * a)
        for l in range(depth - 1, -1, -1):
            gw = d.T @ acts[l] / m
            gb = d.sum(axis=0) / m
            if l:  # with the weights from before their update, as backprop requires
                d = (d @ ws[l]) * (1.0 - acts[l] * acts[l])
            ws[l] -= lr * gw
            bs[l] -= lr * gb


def floor_loss(ws: list[np.ndarray], bs: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """Mean squared-error loss 0.5 * sum (a - y)^2 over the set."""
    a = x
    for w, b in zip(ws, bs):
        a = np.tanh(a @ w.T + b)
    return float(np.mean(0.5 * np.sum((a - y) ** 2, axis=1)))


def rate_between(samples: list[tuple[float, int]], t0: float, t1: float) -> float | None:
    """Units per second between the first and last (time, count) samples inside [t0, t1]."""
    inside = [s for s in samples if t0 <= s[0] <= t1]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def verdict(
    results: dict[str, Any], key: str, op: str, limit: float, floor: str | None
) -> tuple[float | None, bool | None]:
    """The bound a target sets in this run, and whether it is met (None when not measured)."""
    value = results.get(key)
    bound = limit * results[floor] if floor and results.get(floor) is not None else (None if floor else limit)
    if value is None or bound is None:
        return bound, None
    return bound, value <= bound if op == "<=" else value >= bound


# --- engine level ------------------------------------------------------------------------------
def timed(fns: dict[str, Callable[[], object]], seconds: float) -> dict[str, list[float]]:
    """Seconds per call of each function, one sample per block of about 20 ms; the blocks are
    interleaved so that drift and other load hit every function alike."""
    reps = {}
    for name, fn in fns.items():  # calibrate the block length
        n = 1
        while True:
            t = time.perf_counter()
            for _ in range(n):
                fn()
            if time.perf_counter() - t >= 0.02 or n >= 1 << 20:
                break
            n *= 2
        reps[name] = n
    samples: dict[str, list[float]] = {name: [] for name in fns}
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or min(len(v) for v in samples.values()) < 5:
        for name, fn in fns.items():
            n = reps[name]
            t = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t) / n)
    return samples


def median_timed(fns: dict[str, Callable[[], object]], seconds: float) -> dict[str, float]:
    return {name: percentile(v, 50) for name, v in timed(fns, seconds).items()}


def floor_of(doc: dict[str, Any]) -> tuple[Trainer, Callable[[], None]]:
    """The scenario's trainer, and one floor epoch per call from its initial weights (copied)."""
    t = sc.build(sc.parse(doc)).trainer
    ws = [w.copy() for w in t.net.w]
    bs = [b.copy() for b in t.net.b]
    return t, lambda: floor_epoch(ws, bs, t.x, t.y, t.batch_size, t.optimizer.learning_rate)


def engine_vs_floor(doc: dict[str, Any], seconds: float) -> dict[str, float]:
    """One epoch of the engine's untraced Trainer.step() against floor_epoch, same start weights."""
    t, floor = floor_of(doc)
    steps = math.ceil(len(t.x) / t.batch_size)

    def engine_epoch() -> None:
        for _ in range(steps):
            t.step()

    per = median_timed({"engine": engine_epoch, "floor": floor}, seconds)
    return {
        "steps_per_epoch": steps,
        "batch": min(t.batch_size, len(t.x)),  # a batch larger than the set is the whole set
        "params": sum(p.size for p in t.net.params),
        "engine_step_us": per["engine"] / steps * 1e6,
        "floor_step_us": per["floor"] / steps * 1e6,
        "engine_epochs_per_s": 1.0 / per["engine"],
        "floor_epochs_per_s": 1.0 / per["floor"],
        "ratio": per["engine"] / per["floor"],
    }


def grid_costs(doc: dict[str, Any], seconds: float) -> dict[str, float]:
    """A 100x100 grid through every layer (net.forward), and packing a whole maps message."""
    built = sc.build(sc.parse(doc))
    assert built.extent is not None, "maps need 2-D inputs"
    net, points = built.trainer.net, maps.grid(built.extent)
    per = median_timed(
        {"forward": lambda: net.forward(points), "pack": lambda: maps.pack(net, points, 1, 1)},
        seconds,
    )
    return {
        "grid_forward_ms": per["forward"] * 1e3,
        "map_pack_ms": per["pack"] * 1e3,
        "maps_bytes": len(maps.pack(net, points, 1, 1)),
    }


# --- the server ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# the probes send back to back, faster than a person's per-connection message rate allows
UNLIMITED = {"DELTAFLOW_MESSAGE_RATE": "1000000", "DELTAFLOW_MESSAGE_BURST": "1000000"}


class Server:
    """`deltaflow serve` as a subprocess on a free port, ready once /healthz answers."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.folder = tempfile.TemporaryDirectory()  # sessions are saved, as in use, but not in the user's files
        db = {"DELTAFLOW_DB": str(Path(self.folder.name) / "deltaflow.db")}
        self.env = {**os.environ, **UNLIMITED, **db, **(env or {})}
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.ws_url = f"ws://{HOST}:{self.port}/ws"
        self.log = tempfile.TemporaryFile()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Server":
        cmd = [sys.executable, "-m", "app.cli", "serve", "--host", HOST, "--port", str(self.port)]
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
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.folder.cleanup()


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


class Follower:
    """Reads everything one training session sends, noting each frame's arrival time and epoch."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[tuple[float, int]] = []
        self.frame_bytes = 0  # the last frame's text plus its maps
        self.paused = asyncio.Event()
        self.error: str | None = None
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        text_bytes = 0
        with contextlib.suppress(Exception):  # a closed connection ends the reading
            async for m in self.ws:
                if isinstance(m, bytes):
                    if text_bytes:
                        self.frame_bytes, text_bytes = text_bytes + len(m), 0
                elif m.startswith(FRAME_PREFIX):
                    epoch = frame_epoch(m)
                    if epoch is not None:
                        self.frames.append((time.perf_counter(), epoch))
                    text_bytes = len(m.encode())
                elif m.startswith('{"type":"state"') and '"playing":null' in m:
                    self.paused.set()
                elif m.startswith(ERROR_PREFIX):
                    self.error = self.error or m[:400]

    async def stop(self) -> None:
        """Pause the session and wait until the server says so: a closed socket alone leaves it training."""
        self.paused.clear()
        await self.ws.send(PAUSE)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.paused.wait(), 10)
        await self.ws.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def step_rows(ws: Any, n: int, warmup: int, until: float) -> dict[str, Any]:
    """Round trips on worked-example, in turn: `step` (until its last event, the `epoch` that
    ends it; and until the maps that follow), a websocket ping (answered by the protocol
    layer) and a command the app rejects (one `error` event back)."""
    probes: dict[str, list[float]] = {"step": [], "rtt": [], "app_rtt": [], "step_maps": []}
    texts = set()
    i = 0
    while i < warmup + n or time.perf_counter() < until:
        t0 = time.perf_counter()
        await ws.send(STEP)
        count, t_events = await until_maps(ws, EPOCH_PREFIX)
        if not t_events:
            raise ServerError("a worked-example step ended without its `epoch` event")
        texts.add(count)
        t1 = time.perf_counter()
        await asyncio.wait_for(await ws.ping(), RECV_TIMEOUT)
        t2 = time.perf_counter()
        await ws.send(REJECTED)
        m = await recv(ws)
        t3 = time.perf_counter()
        if not (isinstance(m, str) and m.startswith(ERROR_PREFIX)):
            raise ServerError(f"expected an error for an unknown command, got {m[:100]!r}")
        if i >= warmup:
            for key, dt in zip(probes, (t_events - t0, t2 - t1, t3 - t2, t1 - t0)):
                probes[key].append(dt * 1e3)
        i += 1
    out: dict[str, Any] = {"steps": len(probes["step"]), "step_text_messages": sorted(texts)}
    for key, values in probes.items():
        out[f"{key}_p50_ms"], out[f"{key}_p99_ms"] = percentile(values, 50), percentile(values, 99)
    return out


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def under_load(server: Server, trainers: int, steps: int, seconds: float, budget: Budget) -> dict[str, Any]:
    """`trainers` sessions training circle at 30 frames/s, read in full; meanwhile one more
    session steps worked-example `steps` times (if any). Aggregate epochs/s over the window,
    and the share of a core that the server and this client used in it."""
    url, pid = server.ws_url, server.proc.pid if server.proc else 0
    ws_list = await asyncio.gather(*(connect(url, {"preset": "circle"}) for _ in range(trainers)))
    stepper = await connect(url, {"preset": "worked-example"}) if steps else None
    followers = [Follower(ws) for ws in ws_list]
    out: dict[str, Any] = {"sessions": trainers}
    try:
        for f in followers:
            await f.ws.send(TRAIN)
        await asyncio.sleep(budget.warmup_seconds)
        t0, server_cpu, client_cpu = time.perf_counter(), cpu_seconds(pid), time.process_time()
        if stepper is not None:
            out.update(await step_rows(stepper, steps, budget.warmup_steps, t0 + seconds))
        else:
            await asyncio.sleep(seconds)
        t1 = time.perf_counter()
        out["server_cpu"] = (cpu_seconds(pid) - server_cpu) / (t1 - t0)
        out["client_cpu"] = (time.process_time() - client_cpu) / (t1 - t0)
        if not 0 < out["server_cpu"] <= 1.5:
            out["server_cpu"] = None  # no /proc: leave the per-cpu rates out
        errors = [f.error for f in followers if f.error]
        if errors:
            raise ServerError(errors[0])
        rates = [rate_between(f.frames, t0, t1) for f in followers]
        fps = [sum(t0 <= s[0] <= t1 for s in f.frames) / (t1 - t0) for f in followers]
        if followers:
            out["epochs_per_s"] = sum(r or 0.0 for r in rates)
            # per second of server CPU: the rate without the share of the core that other work took
            cpu = out["server_cpu"]
            out["epochs_per_cpu_s"] = out["epochs_per_s"] / cpu if cpu else None
            out["epochs_per_s_per_session"] = out["epochs_per_s"] / trainers
            out["frames_per_s"] = percentile(fps, 50)
            out["frame_bytes"] = max(f.frame_bytes for f in followers)
            out["starved_sessions"] = sum(r is None for r in rates)
    finally:
        await asyncio.gather(*(f.stop() for f in followers))
        if stepper is not None:
            await stepper.close()
    return out


# --- the page -----------------------------------------------------------------------------------
RAF_PROBE = """(ms) => new Promise(done => {
  const ts = [], t0 = performance.now();
  const tick = t => { ts.push(t); if (t - t0 < ms) requestAnimationFrame(tick); else done(ts); };
  requestAnimationFrame(tick);
})"""
FRAME_TIMES = """() => { const d = window.deltaflow; const f = d && d.frameTimes;
  if (!f) return null; const a = Array.isArray(f) ? f : (f.values ? f.values() : Array.from(f));
  return Array.from(a).filter(t => typeof t === "number"); }"""
PAGE_BYTES = """() => performance.getEntriesByType("resource")
  .filter(e => /\\.(m?js|css)$/.test(new URL(e.name).pathname))
  .reduce((n, e) => n + (e.decodedBodySize || e.encodedBodySize || 0), 0)"""
# animate at the page's own speed setting, as its Animate button does
SEND = """cmd => { const d = window.deltaflow; if (!d || !d.socket) return null;
  if (cmd.mode === "animate") cmd.speed = (d.store && d.store.view && d.store.view.speed) || 4;
  return d.socket.send(cmd) === false ? null : cmd; }"""
READY = "() => { const d = window.deltaflow; return !!(d && d.socket && d.socket.connected !== false); }"


def fps_of(times: list[float]) -> float | None:
    """Frames per second from the median interval between rAF timestamps (ms)."""
    gaps = [b - a for a, b in zip(times, times[1:]) if b > a]
    return 1000.0 / percentile(gaps, 50) if gaps else None


async def page_fps(page: Any, seconds: float) -> tuple[float | None, str]:
    """The page's frame rate over `seconds`: from its own frameTimes when it has them, else a rAF probe."""
    start = await page.evaluate("() => performance.now()")
    probe = await page.evaluate(RAF_PROBE, seconds * 1000)
    own = await page.evaluate(FRAME_TIMES)
    if own:
        fps = fps_of([t for t in own if t >= start])
        if fps is not None:
            return fps, "frameTimes"
    return fps_of(probe), "raf-probe"


async def drive(page: Any, cmd: dict[str, Any]) -> dict[str, Any] | None:
    """Send a command through the page's own socket (the command sent, or None if it has none);
    without one, Space (play/pause in the last mode) is all that can be pressed."""
    with contextlib.suppress(Exception):
        sent = await page.evaluate(SEND, cmd)
        if sent:
            return dict(sent)
    await page.keyboard.press("Space")
    return None


async def browser_rows(base: str, seconds: float) -> dict[str, Any]:
    """Frame rate of the page animating and training circle, and the JS + CSS it fetched."""
    out: dict[str, Any] = {"browser_fps_animate": None, "browser_fps_train": None, "page_bytes_fetched": None}
    if not Path(CHROMIUM).exists():
        out["browser_note"] = f"{CHROMIUM} not found"
        return out
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            resp = await page.goto(base + "/", wait_until="load")
            if resp is None or not resp.ok:
                out["browser_note"] = f"GET / answered {resp.status if resp else 'nothing'}"
                return out
            with contextlib.suppress(Exception):
                await page.wait_for_function(READY, timeout=5000)
            await page.wait_for_load_state("networkidle")
            out["page_bytes_fetched"] = await page.evaluate(PAGE_BYTES)
            animate = await drive(page, {"type": "play", "mode": "animate"})
            out["browser_fps_animate"], source = await page_fps(page, seconds)
            await drive(page, {"type": "pause"})
            await drive(page, {"type": "play", "mode": "train", "fps": 30})
            out["browser_fps_train"], _ = await page_fps(page, seconds)
            await drive(page, {"type": "pause"})
            how = f"window.deltaflow.socket (animate speed {animate['speed']}/s)" if animate else "the keyboard"
            out["browser_note"] = f"driven by {how}; fps from {source}"
        finally:
            await browser.close()
    return out


def static_bytes() -> int:
    """JS and CSS under static/ on disk: what the page could load at most."""
    return sum(p.stat().st_size for ext in ("*.js", "*.css") for p in (ROOT / "static").rglob(ext))


# --- the run ------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "loadavg_1m_start": os.getloadavg()[0],  # other work on the machine skews every row
    }


def take(dst: dict[str, Any], src: dict[str, Any], **names: str) -> None:
    """dst[new] = src[old] for each new=old."""
    for new, old in names.items():
        dst[new] = src[old]


async def server_rows(server: Server, budget: Budget, quick: bool, browser: bool, r: dict[str, Any]) -> None:
    """Fills `r` as it goes, so that a failing part keeps what the parts before it measured."""
    idle = await under_load(server, 0, budget.steps, 0.0, budget)
    take(r, idle, step_latency_p50_ms="step_p50_ms", step_latency_p99_ms="step_p99_ms", ws_rtt_p50_ms="rtt_p50_ms")
    take(r, idle, ws_app_rtt_p50_ms="app_rtt_p50_ms", step_text_messages="step_text_messages")
    take(r, idle, step_maps_latency_p50_ms="step_maps_p50_ms", step_maps_latency_p99_ms="step_maps_p99_ms")
    take(r, idle, idle_server_cpu="server_cpu", idle_client_cpu="client_cpu")
    # the floor right before and after the train window, so that other load on the machine hits both
    _, floor = floor_of(circle_doc())
    epochs = timed({"floor": floor}, budget.engine_seconds / 2)["floor"]
    train = await under_load(server, 1, 0, budget.train_seconds, budget)
    epochs += timed({"floor": floor}, budget.engine_seconds / 2)["floor"]
    r["numpy_floor_epochs_per_s"] = 1.0 / percentile(epochs, 50)
    take(r, train, train_epochs_per_s="epochs_per_s", train_frames_per_s="frames_per_s", frame_bytes="frame_bytes")
    take(r, train, train_epochs_per_cpu_s="epochs_per_cpu_s")
    take(r, train, train_server_cpu="server_cpu", train_client_cpu="client_cpu")
    counts = [BUSY_SESSIONS] if quick else SESSION_COUNTS
    sweep = [await under_load(server, n, budget.steps, budget.train_seconds, budget) for n in counts]
    busy = next(s for s in sweep if s["sessions"] == BUSY_SESSIONS)
    take(r, busy, busy_step_latency_p50_ms="step_p50_ms", busy_step_latency_p99_ms="step_p99_ms")
    take(r, busy, busy_ws_rtt_p99_ms="rtt_p99_ms", busy_app_rtt_p99_ms="app_rtt_p99_ms")
    take(r, busy, busy_epochs_per_s="epochs_per_s", busy_frames_per_s="frames_per_s")
    take(r, busy, busy_server_cpu="server_cpu", busy_client_cpu="client_cpu")
    if not quick:
        r["sweep_sessions"] = sweep
    if browser:
        r.update(await browser_rows(server.base, budget.browser_seconds))


def engine_rows(budget: Budget, quick: bool) -> dict[str, Any]:
    r: dict[str, Any] = {}
    circle = engine_vs_floor(circle_doc(), budget.engine_seconds)
    take(r, circle, engine_step_us="engine_step_us", numpy_floor_step_us="floor_step_us")
    take(r, circle, engine_floor_step_ratio="ratio", engine_only_epochs_per_s="engine_epochs_per_s")
    r.update(grid_costs(circle_doc(), budget.engine_seconds / 2))
    if not quick:
        sizes = []
        for layers in SIZES:
            row = engine_vs_floor(circle_doc(layers=layers), budget.engine_seconds)
            row.update(grid_costs(circle_doc(layers=layers), budget.engine_seconds / 2))
            sizes.append({"layers": "-".join(map(str, layers)), **row})
        r["sweep_size"] = sizes
        r["sweep_batch"] = [engine_vs_floor(circle_doc(batch_size=b or 10_000), budget.engine_seconds) for b in BATCHES]
    return r


def fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells[1:]
    ]
    return "\n".join(lines)


# (header, key of the row or a function of the row)
Column = tuple[str, str | Callable[[dict[str, Any]], Any]]
SIZE_COLUMNS: list[Column] = [
    ("layers", "layers"),
    ("params", "params"),
    ("step us", "engine_step_us"),
    ("floor us", "floor_step_us"),
    ("ratio", "ratio"),
    ("us/param", lambda x: x["engine_step_us"] / x["params"]),
    ("grid ms", "grid_forward_ms"),
    ("pack ms", "map_pack_ms"),
    ("maps B", "maps_bytes"),
]
BATCH_COLUMNS: list[Column] = [
    ("batch", "batch"),
    ("step us", "engine_step_us"),
    ("us/example", lambda x: x["engine_step_us"] / x["batch"]),
    ("floor us", "floor_step_us"),
    ("ratio", "ratio"),
    ("epochs/s", "engine_epochs_per_s"),
]
SESSION_COLUMNS: list[Column] = [
    ("sessions", "sessions"),
    ("epochs/s all", "epochs_per_s"),
    ("epochs/cpu-s", "epochs_per_cpu_s"),
    ("epochs/s each", "epochs_per_s_per_session"),
    ("frames/s each", "frames_per_s"),
    ("starved", "starved_sessions"),
    ("step p50 ms", "step_p50_ms"),
    ("step p99 ms", "step_p99_ms"),
    ("app p99 ms", "app_rtt_p99_ms"),
    ("ping p99 ms", "rtt_p99_ms"),
    ("server cpu", "server_cpu"),
    ("client cpu", "client_cpu"),
]
SWEEPS = [
    ("sweep_size", "Network size (engine, circle data, batch 10)", SIZE_COLUMNS),
    ("sweep_batch", "Batch size (engine, circle 2-4-2-1; full = 250)", BATCH_COLUMNS),
    ("sweep_sessions", "Sessions training circle (server) while one more steps worked-example", SESSION_COLUMNS),
]


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    parts = [
        f"Deltaflow benchmarks ({'quick' if r['quick'] else 'full'}) on {m['nproc']} x {m['cpu']}, "
        f"Python {m['python']}, numpy {m['numpy']}, {r['elapsed_s']:.1f} s, "
        f"load {m['loadavg_1m_start']:.2f} -> {m['loadavg_1m_end']:.2f}"
    ]
    keys = [k for k in r if not k.startswith(("sweep_", "targets", "machine", "errors")) and not isinstance(r[k], dict)]
    notes = [k for k in keys if isinstance(r[k], str)]
    rows = [[k, r[k]] for k in keys if k not in notes]
    parts.append(table("\nMeasurements", ["key", "value"], rows) + "".join(f"\n{k}: {r[k]}" for k in notes))
    rows = []
    for key, op, limit, floor in TARGETS:
        bound, met = verdict(r, key, op, limit, floor)
        rule = f"{op} {limit:g} x {floor}" if floor else f"{op} {limit:g}"
        rows.append([key, r.get(key), rule, bound, {True: "met", False: "MISSED", None: "n/a"}[met]])
    parts.append(table("\nTargets", ["target", "value", "rule", "bound", "status"], rows))
    if r.get("errors"):
        parts.append("\nErrors\n" + "\n".join(r["errors"]))
    for key, title, columns in SWEEPS:
        if key in r:
            rows = [[x[get] if isinstance(get, str) else get(x) for _, get in columns] for x in r[key]]
            parts.append(table(f"\n{title}", [name for name, _ in columns], rows))
    return "\n".join(parts)


def run(quick: bool, browser: bool, server_env: dict[str, str] | None = None) -> dict[str, Any]:
    budget = QUICK if quick else FULL
    keep_freed_memory()  # the server's process settings, so that the engine rows measure what it runs
    t = time.perf_counter()
    r: dict[str, Any] = {"quick": quick, "machine": machine()}
    r.update(engine_rows(budget, quick))
    if server_env:
        r["server_env"] = server_env
    r["errors"] = []
    server = Server(server_env)
    try:
        with server:
            asyncio.run(asyncio.wait_for(server_rows(server, budget, quick, browser, r), WATCHDOG[quick]))
    except Exception as e:  # report what was measured, and why the rest was not
        why = "the watchdog stopped the server part" if isinstance(e, TimeoutError) else str(e)
        r["errors"].append(f"{type(e).__name__}: {why}")
        r["errors"].append("server log tail: " + server.output()[-1500:])
    r["page_bytes_static"] = static_bytes()
    r["page_bytes"] = r.get("page_bytes_fetched") or r["page_bytes_static"]
    r["targets"] = {key: verdict(r, key, op, limit, floor)[1] for key, op, limit, floor in TARGETS}
    r["machine"]["loadavg_1m_end"] = os.getloadavg()[0]
    r["elapsed_s"] = time.perf_counter() - t
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples and no sweeps: within 45 s")
    ap.add_argument("--no-browser", action="store_true", help="skip headless Chromium")
    ap.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set in the server's environment, e.g. to try a setting (repeatable)",
    )
    args = ap.parse_args(argv)
    env = dict(kv.split("=", 1) for kv in args.server_env)
    r = run(args.quick, not args.no_browser, env)
    print(report(r))
    print(json.dumps(r, default=float, separators=(",", ":")))
    return 1 if r["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
