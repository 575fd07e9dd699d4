"""Rooms through Redis: one presenter training at 30 frames/s, viewers spread over worker processes.

    python benchmarks/fanout.py [--viewers 1000] [--workers 1,2,4] [--seconds 8]

Starts its own redis-server (loopback, no persistence) and, for each worker count W, W
`deltaflow serve` processes sharing it and one session database: W workers of
`deltaflow serve --workers W`, each on its own port so that the viewers are spread evenly
and each worker's CPU is read alone. The room lives in worker 0 with its presenter; the
viewers connect round robin, from one client process per worker. Per run it reports:
- each viewer's lag (its arrival of a frame minus the presenter's, matched by step), p50/p99;
- frames/s per viewer (min, median) and the presenter's;
- CPU per viewer in each worker (the worker's CPU over the window / its viewers), and the
  owner's CPU (training included);
- Redis's CPU share and its bandwidth in and out (INFO stats), and bytes per event published.
Its last line is one JSON object. docs/performance.md and docs/scaling.md record a run.
"""

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import Server, cpu_seconds, free_port, percentile  # noqa: E402
from benchmarks.rooms import post, say, train, until_maps, wait_ready, ws_connect  # noqa: E402

RUNS = (1, 2, 4)  # worker processes per run
VIEWERS = 1000


class RedisServer:
    """redis-server on a free loopback port, in a temporary directory, without persistence."""

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="deltaflow-bench-redis-")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "RedisServer":
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is missing: install Debian's redis-server (.ci/setup)")
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir.name, "--save", ""]
        self.proc = subprocess.Popen([exe, *args, "--appendonly", "no"], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.info() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        return self

    def info(self) -> dict[str, Any] | None:
        import redis

        try:
            with redis.Redis(port=self.port, socket_timeout=2) as r:
                stats: dict[str, Any] = r.info("stats")
                return stats
        except redis.RedisError:
            return None

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
        self.dir.cleanup()


def spawn(urls: list[str], n: int, seconds: float, tmp: Path) -> list[tuple[subprocess.Popen[bytes], Path, int]]:
    """One viewer client process per worker URL, n viewers in all, round robin."""
    procs = []
    for w, url in enumerate(urls):
        k = n // len(urls) + (1 if w < n % len(urls) else 0)
        ready = tmp / f"fanout-ready-{w}-{time.monotonic_ns()}"
        cmd = [sys.executable, str(ROOT / "benchmarks" / "rooms.py"), "--client", url, str(k), str(seconds), str(ready)]
        procs.append((subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE), ready, k))
    return procs


async def one_run(redis: RedisServer, workers: int, n: int, seconds: float) -> dict[str, Any]:
    r: dict[str, Any] = {"workers": workers, "viewers": n, "seconds": seconds}
    tmp = Path(tempfile.mkdtemp(prefix="deltaflow-fanout-"))
    env = {
        "DELTAFLOW_REDIS_URL": redis.url,
        "DELTAFLOW_DB": str(tmp / "sessions.db"),
        "DELTAFLOW_ROOM_MAX_VIEWERS": str(n + 10),
    }
    servers = [Server(env) for _ in range(workers)]
    try:
        for s in servers:
            s.__enter__()
        owner = servers[0]
        room = post(owner.base + "/api/rooms", {"preset": "circle"})
        code = room["room"]
        pres = await ws_connect(f"{owner.ws_url}?room={code}")
        await until_maps(pres)
        await pres.send(json.dumps({"type": "claim", "token": room["presenter_token"]}))
        await until_maps(pres)
        procs = spawn([f"{s.ws_url}?room={code}" for s in servers], n, seconds + 14, tmp)
        await wait_ready([(p, ready) for p, ready, _ in procs])
        say(f"{workers} worker(s): {n} viewers connected")
        await asyncio.sleep(1.5)  # the head counts settle
        pids = [s.proc.pid for s in servers if s.proc is not None]
        assert redis.proc is not None
        cpu0 = [cpu_seconds(p) for p in pids]
        red0, stats0, t0 = cpu_seconds(redis.proc.pid), redis.info() or {}, time.monotonic()
        seen, _ = await train(pres, seconds)
        wall = time.monotonic() - t0
        cpu = [(cpu_seconds(p) - c) / wall for p, c in zip(pids, cpu0, strict=True)]
        stats1 = redis.info() or {}
        r["redis_cpu_share"] = (cpu_seconds(redis.proc.pid) - red0) / wall
        r["redis_in_kbps"] = (stats1["total_net_input_bytes"] - stats0["total_net_input_bytes"]) / 1000 / wall
        r["redis_out_kbps"] = (stats1["total_net_output_bytes"] - stats0["total_net_output_bytes"]) / 1000 / wall
        got: dict[str, list[Any]] = {"frames": [], "bytes": []}
        for p, ready, _ in procs:
            out, _ = p.communicate(timeout=180)
            part = json.loads(out)
            got["frames"] += part["frames"]
            got["bytes"] += part["bytes"]
            ready.unlink(missing_ok=True)
        await pres.close()
    finally:
        for s in servers:
            s.__exit__()
        shutil.rmtree(tmp, ignore_errors=True)
    per_worker = [k for _, _, k in procs]
    lags, fps, kbps = [], [], []
    t_first, t_last = min(seen.values()), max(seen.values())
    window = max(t_last - t_first, 1e-9)
    for frames, sizes in zip(got["frames"], got["bytes"], strict=True):
        inside = [(s, t) for s, t in frames if s in seen]
        lags += [(t - seen[s]) * 1e3 for s, t in inside]
        fps.append(len(inside) / window)
        kbps.append(sum(b for t, b in sizes if t_first <= t <= t_last) / 1000 / window)
    r["presenter_fps"] = len(seen) / window
    r["lag_p50_ms"], r["lag_p99_ms"] = percentile(lags, 50), percentile(lags, 99)
    r["viewer_fps_min"], r["viewer_fps_median"] = min(fps), percentile(fps, 50)
    r["viewer_kbps_mean"] = sum(kbps) / len(kbps)
    r["worker_cpu_share"] = cpu
    r["worker_viewers"] = per_worker
    # the owner also trains flat out between frames; the others only fan out
    r["cpu_per_viewer_pct"] = [100 * c / max(k, 1) for c, k in zip(cpu, per_worker, strict=True)]
    others = [100 * c / k for c, k in zip(cpu[1:], per_worker[1:], strict=True) if k]
    r["fanout_cpu_per_viewer_pct"] = sum(others) / len(others) if others else None
    r["redis_bytes_per_frame_out"] = r["redis_out_kbps"] * 1000 / max(r["presenter_fps"], 1e-9)
    return r


async def measure(n: int = VIEWERS, runs: tuple[int, ...] = RUNS, seconds: float = 8.0) -> dict[str, Any]:
    """One run per worker count in `runs`, on one redis-server."""
    out: dict[str, Any] = {"viewers": n, "runs": []}
    with RedisServer() as redis:
        for w in runs:
            try:
                out["runs"].append(await one_run(redis, w, n, seconds))
            except Exception as e:  # a run the machine could not carry: say why, go on with the next
                out["runs"].append({"workers": w, "viewers": n, "error": f"{type(e).__name__}: {e}"})
                say(f"{w} worker(s): {type(e).__name__}: {e}")
    return out


def report(r: dict[str, Any]) -> str:
    head = (
        f"{'workers':>7}  {'lag p50/p99 ms':>15}  {'fps min/med':>11}  {'KB/s/viewer':>11}  "
        f"{'CPU %/viewer per worker':>26}  {'Redis CPU':>9}  {'Redis in/out KB/s':>17}"
    )
    lines = [head]
    for x in r["runs"]:
        if "error" in x:
            lines.append(f"{x['workers']:>7}  failed: {x['error'][:150]}")
            continue
        per = " ".join(f"{v:.3f}" for v in x["cpu_per_viewer_pct"])
        lines.append(
            f"{x['workers']:>7}  {x['lag_p50_ms']:>6.1f} / {x['lag_p99_ms']:<6.1f}  "
            f"{x['viewer_fps_min']:>4.1f} / {x['viewer_fps_median']:<4.1f}  {x['viewer_kbps_mean']:>11.1f}  "
            f"{per:>26}  {100 * x['redis_cpu_share']:>8.1f}%  "
            f"{x['redis_in_kbps']:>7.0f} / {x['redis_out_kbps']:<7.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--viewers", type=int, default=VIEWERS)
    ap.add_argument("--workers", default=",".join(map(str, RUNS)), help="worker counts, one run each")
    ap.add_argument("--seconds", type=float, default=8.0)
    a = ap.parse_args(argv)
    r = asyncio.run(measure(a.viewers, tuple(int(w) for w in a.workers.split(",")), a.seconds))
    print(report(r))
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
