"""A classroom on loopback: one presenter, hundreds of viewers, measured against the same room empty.

    python benchmarks/rooms.py [--viewers 300] [--clients 2] [--seconds 8] [--maps page|server]

Starts `deltaflow serve`, opens a room on circle, and runs the viewers' websockets in
`--clients` separate processes, each a light reader (`benchmarks/wsreader.py`), so that the
client is not the bottleneck. They ask for
`maps=page`, as the page does (it draws the maps from each frame's weights); `--maps server`
measures clients that take the server's maps. It reports:
- the presenter's `step` round trip, p50 and p99, with no viewers and with all of them;
- while the presenter trains at 30 frames/s: each viewer's lag (when it receives a frame
  minus when the presenter received the same frame, matched by step), frames/s per viewer,
  bytes/s per viewer, and the server's RSS growth;
- the server's CPU per viewer, from the training rate lost to sending: the server trains flat
  out, so what the viewers cost is what training no longer gets;
- in animate mode, whether every viewer received every phase event in order.
Its last line is one JSON object. docs/performance.md records a run.
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import Server, cpu_seconds, percentile, recv, until_maps  # noqa: E402
from benchmarks.wsreader import BINARY, TEXT, OnMessage, open_reader  # noqa: E402

STEP_FIELD = re.compile(r'"step":(\d+)')
STEP_BYTES = re.compile(rb'"step":(\d+)')
STEP_EVERY = 0.1  # seconds between the presenter's steps: a key held down repeats at about 10/s
PHASES = ("batch", "forward", "output_error", "backward", "update")
# the server on one core, the clients on the other: the server's lost training rate is then
# what its viewers cost it, not what the clients took from it
SERVER_CPUS, CLIENT_CPUS = {0}, {1}
TARGETS = {"lag_p99_ms": 100.0, "viewer_fps_min": 25.0, "viewer_kbps_mean": 50.0, "rss_growth_mb": 200.0}


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def pin(pid: int, cpus: set[int]) -> None:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(pid, cpus)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as r:
        out: dict[str, Any] = json.loads(r.read())
        return out


async def ws_connect(url: str, tries: int = 3) -> Any:
    """A websocket, tried again when a loaded server drops the handshake."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake

    for k in range(tries):
        try:
            return await connect(url, compression=None, max_size=None, proxy=None, ping_interval=None, open_timeout=30)
        except (OSError, InvalidHandshake, TimeoutError):
            if k == tries - 1:
                raise
            await asyncio.sleep(0.5)


# --- the viewers' side: a separate process per client ------------------------------------------
async def viewers(url: str, n: int, seconds: float, ready_file: str) -> dict[str, Any]:
    """n viewers reading everything for `seconds` after the start signal; what each received."""
    frames: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    phases: list[list[str]] = [[] for _ in range(n)]
    sizes: list[list[tuple[float, int]]] = [[] for _ in range(n)]  # (arrival, bytes) of every message
    maps_seen = [asyncio.Event() for _ in range(n)]
    recording = [False]

    def on_message(k: int) -> OnMessage:
        def got(op: int, m: bytes, now: float) -> None:
            if op == BINARY:
                maps_seen[k].set()
            if not recording[0]:
                return
            sizes[k].append((now, len(m)))
            if op != TEXT:
                return
            if m.startswith(b'{"type":"frame"'):
                step = STEP_BYTES.search(m, 0, 80)
                if step:
                    frames[k].append((int(step.group(1)), now))
                return
            kind = m[9 : m.index(b'"', 9)].decode()
            if kind in PHASES:
                layer = re.search(rb'"layer":(\d+)', m[:120])
                at = STEP_BYTES.search(m)
                where = (layer.group(1).decode() if layer else "", at.group(1).decode() if at else "")
                phases[k].append(f"{kind}:{where[0]}:{where[1]}")

        return got

    conns = [await open_reader(url, on_message(k)) for k in range(n)]
    await asyncio.gather(*(asyncio.wait_for(e.wait(), 60) for e in maps_seen))  # the welcome's maps
    recording[0] = True
    Path(ready_file).write_text("ready")
    await asyncio.sleep(seconds)
    recording[0] = False
    for r in conns:
        r.close()
    return {"frames": frames, "phases": phases, "bytes": sizes}


def client_main(argv: list[str]) -> None:
    url, n, seconds, ready = argv[0], int(argv[1]), float(argv[2]), argv[3]
    try:  # the server's loop too (uvicorn's default): a read costs a few µs, not tens
        import uvloop

        out = uvloop.run(viewers(url, n, seconds, ready))
    except ImportError:
        out = asyncio.run(viewers(url, n, seconds, ready))
    sys.stdout.write(json.dumps(out))


def spawn(url: str, n: int, clients: int, seconds: float, tmp: Path) -> list[tuple[subprocess.Popen[bytes], Path]]:
    procs = []
    for c in range(clients):
        k = n // clients + (1 if c < n % clients else 0)
        ready = tmp / f"ready-{c}-{time.monotonic_ns()}"
        cmd = [sys.executable, __file__, "--client", url, str(k), str(seconds), str(ready)]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE)
        pin(proc.pid, CLIENT_CPUS)
        procs.append((proc, ready))
    return procs


async def wait_ready(procs: list[tuple[subprocess.Popen[bytes], Path]]) -> None:
    deadline = time.monotonic() + 120
    while not all(r.exists() for _, r in procs):
        if time.monotonic() > deadline or any(p.poll() is not None for p, _ in procs):
            raise RuntimeError("the viewer clients did not connect")
        await asyncio.sleep(0.05)


def collect(procs: list[tuple[subprocess.Popen[bytes], Path]]) -> dict[str, Any]:
    out: dict[str, Any] = {"frames": [], "phases": [], "bytes": []}
    for p, ready in procs:
        stdout, _ = p.communicate(timeout=120)
        part = json.loads(stdout)
        for k in out:
            out[k] += part[k]
        ready.unlink(missing_ok=True)
    return out


# --- the presenter's side ------------------------------------------------------------------------
async def step_rtts(ws: Any, n: int, every: float = STEP_EVERY) -> list[float]:
    """The presenter's `step` round trips (until the step's last event and its maps), in ms,
    one step every `every` seconds: a teacher holding Shift+→ down."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await ws.send('{"type":"step"}')
        await until_maps(ws)
        out.append((time.perf_counter() - t0) * 1e3)
        await asyncio.sleep(max(0.0, every - (time.perf_counter() - t0)))
    return out


async def train(ws: Any, seconds: float) -> tuple[dict[int, float], int]:
    """Train for `seconds`; the presenter's arrival time of each frame by step, and the steps done."""
    seen: dict[int, float] = {}
    await ws.send('{"type":"play","mode":"train","fps":30}')
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        m = await recv(ws)
        if isinstance(m, str) and m.startswith('{"type":"frame"'):
            step = STEP_FIELD.search(m, 0, 80)
            if step:
                seen[int(step.group(1))] = time.monotonic()
    await ws.send('{"type":"pause"}')
    while True:
        m = await recv(ws)
        if isinstance(m, str) and m.startswith('{"type":"state"') and '"playing":null' in m:
            return seen, int(STEP_FIELD.search(m).group(1))  # type: ignore[union-attr]


async def animate(ws: Any, seconds: float) -> list[str]:
    await ws.send('{"type":"play","mode":"animate","speed":30}')
    out: list[str] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        m = await recv(ws)
        if isinstance(m, str):
            kind = m[9 : m.index('"', 9)]
            if kind in PHASES:
                layer = re.search(r'"layer":(\d+)', m[:120])
                out.append(f"{kind}:{layer.group(1) if layer else ''}:{STEP_FIELD.search(m).group(1)}")  # type: ignore[union-attr]
    await ws.send('{"type":"pause"}')
    return out


async def measure(n: int, clients: int, seconds: float, maps: str = "page") -> dict[str, Any]:
    r: dict[str, Any] = {"viewers": n, "clients": clients, "seconds": seconds, "maps": maps}
    tmp = Path("/tmp")
    with Server() as server:
        assert server.proc is not None
        pid = server.proc.pid
        pin(pid, SERVER_CPUS)
        pin(0, CLIENT_CPUS)
        room = post(server.base + "/api/rooms", {"preset": "circle"})
        code = room["room"]
        view_url = f"{server.ws_url}?room={code}&maps={maps}"  # page: as the page's viewers ask
        pres = await ws_connect(view_url)
        await until_maps(pres)
        await pres.send(json.dumps({"type": "claim", "token": room["presenter_token"]}))
        await until_maps(pres)
        _, steps0 = await train(pres, seconds)  # alone: the training rate the viewers will cost
        await until_maps(pres)  # the maps after the pause
        idle = await step_rtts(pres, 100)
        base_steps = steps0 + len(idle)  # where the run with viewers starts
        rss0 = rss_mb(pid)

        procs = spawn(view_url, n, clients, seconds + 14, tmp)
        await wait_ready(procs)
        say(f"{n} viewers connected")
        await asyncio.sleep(0.5)
        while True:  # drain the head-count events
            try:
                await asyncio.wait_for(pres.recv(), 0.6)
            except TimeoutError:
                break
        c0 = sum(cpu_seconds(p.pid) for p, _ in procs)
        s0, w0 = cpu_seconds(pid), time.monotonic()
        seen, steps1 = await train(pres, seconds)
        r["client_cpu_share"] = (sum(cpu_seconds(p.pid) for p, _ in procs) - c0) / (time.monotonic() - w0)
        r["server_cpu_share"] = (cpu_seconds(pid) - s0) / (time.monotonic() - w0)
        say("trained with viewers")
        phases = await animate(pres, 2.0)
        await asyncio.sleep(1.0)
        busy = await step_rtts(pres, 100)
        say("stepped with viewers")
        rss1 = rss_mb(pid)
        got = collect(procs)
        await pres.close()

    r["step_p50_ms_alone"], r["step_p99_ms_alone"] = percentile(idle, 50), percentile(idle, 99)
    r["step_p50_ms_viewers"], r["step_p99_ms_viewers"] = percentile(busy, 50), percentile(busy, 99)
    r["step_p99_ratio"] = r["step_p99_ms_viewers"] / r["step_p99_ms_alone"]
    lags, fps, kbps = [], [], []
    t_first, t_last = min(seen.values()), max(seen.values())
    window = t_last - t_first
    for frames, size in zip(got["frames"], got["bytes"]):
        inside = [(s, t) for s, t in frames if s in seen]
        lags += [(t - seen[s]) * 1e3 for s, t in inside]
        fps.append(len(inside) / window if window > 0 else 0.0)
        kbps.append(sum(b for t, b in size if t_first <= t <= t_last) / 1000 / window if window > 0 else 0.0)
    r["frames_presenter"] = len(seen)
    r["lag_p50_ms"], r["lag_p99_ms"] = percentile(lags, 50), percentile(lags, 99)
    r["viewer_fps_min"], r["viewer_fps_median"] = min(fps), percentile(fps, 50)
    r["presenter_fps"] = len(seen) / window if window > 0 else 0.0
    r["viewer_kbps_mean"] = sum(kbps) / len(kbps)  # over the training window, maps included
    r["rss_growth_mb"] = rss1 - rss0
    r["train_steps_alone"], r["train_steps_viewers"] = steps0, steps1 - base_steps
    lost = 1 - r["train_steps_viewers"] / max(1, steps0)
    r["cpu_per_viewer_pct"] = 100 * max(lost, 0.0) / n
    r["viewers_per_core"] = n / max(lost, 1e-9)
    r["animate_in_order"] = all(
        p[: len(phases)] == phases[: len(p)] and len(p) >= len(phases) - 3 for p in got["phases"]
    )
    r["animate_phases"] = len(phases)
    return r


def in_order(got: list[str], sent: list[str]) -> bool:
    """The presenter's animate phases appear, whole and in order, in what a viewer received."""
    if not sent or sent[0] not in got:
        return False
    i = got.index(sent[0])
    return got[i : i + len(sent)] == sent


def report(r: dict[str, Any]) -> str:
    rows = [
        (
            "presenter step p99, alone / with viewers (ms)",
            f"{r['step_p99_ms_alone']:.2f} / {r['step_p99_ms_viewers']:.2f}",
            f"ratio {r['step_p99_ratio']:.2f} (≤ 2)",
        ),
        ("viewer lag p50 / p99 (ms)", f"{r['lag_p50_ms']:.1f} / {r['lag_p99_ms']:.1f}", "p99 ≤ 100"),
        (
            "frames/s per viewer, min / median",
            f"{r['viewer_fps_min']:.1f} / {r['viewer_fps_median']:.1f}",
            f"≥ 25 (presenter {r['presenter_fps']:.1f})",
        ),
        ("bytes per viewer (KB/s, mean)", f"{r['viewer_kbps_mean']:.1f}", "≤ 50"),
        ("server RSS growth (MB)", f"{r['rss_growth_mb']:.1f}", "≤ 200"),
        (
            "server CPU per viewer (% of a core)",
            f"{r['cpu_per_viewer_pct']:.3f}",
            f"≈ {r['viewers_per_core']:.0f} viewers per core",
        ),
        ("animate: every phase, in order", str(r["animate_in_order"]), f"{r['animate_phases']} phases"),
    ]
    w = max(len(a) for a, _, _ in rows)
    return "\n".join(f"{a:<{w}}  {b:>16}  {c}" for a, b, c in rows)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--client"]:
        client_main(argv[1:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--viewers", type=int, default=300)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--maps", choices=("page", "server"), default="page", help="who draws the viewers' maps")
    a = ap.parse_args(argv)
    r = asyncio.run(measure(a.viewers, a.clients, a.seconds, a.maps))
    print(report(r))
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
