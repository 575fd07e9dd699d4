"""The websocket rows: `step` round trips against their floors, training rates, and both under
the load of many sessions training at once, all against one `deltaflow serve` subprocess."""

import asyncio
import contextlib
import re
import time
from typing import Any

from benchmarks.browser import browser_rows
from benchmarks.common import (
    EPOCH_PREFIX,
    ERROR_PREFIX,
    FRAME_PREFIX,
    PAUSE,
    RECV_TIMEOUT,
    REJECTED,
    STEP,
    TRAIN,
    Budget,
    Server,
    ServerError,
    connect,
    cpu_seconds,
    percentile,
    recv,
    take,
    until_maps,
)
from benchmarks.engine import circle_doc, floor_of, timed

EPOCH_FIELD = re.compile(r'"epoch":(\d+)')
SESSION_COUNTS = [1, 5, 20, 50]
BUSY_SESSIONS = 20


# --- pure helpers (tests/test_benchmarks.py checks these) ----------------------------------------
def frame_epoch(text: str) -> int | None:
    """The `epoch` of a frame event, read without parsing the whole JSON."""
    m = EPOCH_FIELD.search(text)
    return int(m.group(1)) if m else None


def rate_between(samples: list[tuple[float, int]], t0: float, t1: float) -> float | None:
    """Units per second between the first and last (time, count) samples inside [t0, t1]."""
    inside = [s for s in samples if t0 <= s[0] <= t1]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


# --- clients -------------------------------------------------------------------------------------
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


# --- the rows ------------------------------------------------------------------------------------
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
