"""No single client stalls, starves or exhausts the server: the reproductions, measured.

    python benchmarks/pressure.py

Starts `deltaflow serve`. One session steps worked-example over and over; its `step` round
trip is measured idle, then at once while another client runs a heavy command within the
limits (again and again, when one run is shorter than the window), in ROUNDS alternating
windows of IDLE_SECONDS / ROUNDS and BUSY_SECONDS / ROUNDS, so that the machine's drift from
one second to the next falls on both alike; the p99s are of the pooled round trips. For each of:
- `gradcheck` on 2-64-64-1 tanh, near its work cap (batch 500);
- `slice` on 2-64x9-1 with batch 10,000, near its work cap (41 points);
- a traced `step` of 2-64-64-1 with a full batch of 10,000 (its events capped in size);
- `load` of the largest scenario the limits allow (10,000 examples of 64 inputs, by upload);
- training that 2-64-64-1 run (`play`, then `pause` at the window's end).
Then the memory reproductions, with the server's RSS before and after (and, last, the event
loop's longest hold for each command on a large run: benchmarks/holds.py):
- a client loads the 2-64-64-1 batch-10,000 scenario, sends 12 `step`s and never reads;
- 2,500 pairs of `step` and `set_bias` on a 1-64x9-1 Adam net, then the client leaves.
Its last line is one JSON object; docs/performance.md records a run.
"""

import asyncio
import json
import os
import sys
import time
import urllib.request
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import holds  # noqa: E402
from benchmarks.common import Server, cpu_seconds, percentile, until_maps  # noqa: E402
from benchmarks.rooms import rss_mb, ws_connect  # noqa: E402

STEP = '{"type":"step"}'
IDLE_SECONDS = 5.0  # idle round trips measured for each heavy command, in all
BUSY_SECONDS = 5.0  # busy, in all: a command shorter than a window is run again until its end
ROUNDS = 3  # idle and busy windows alternate this many times


def doc(layers: list[int], batch: int, samples: int = 10_000, optimizer: str = "sgd") -> dict[str, Any]:
    acts = ["tanh"] * (len(layers) - 2) + ["sigmoid"]
    return {
        "name": "pressure",
        "layers": layers,
        "activations": acts,
        "optimizer": {"type": optimizer},
        "data": {"generator": "circle", "samples": samples, "train_fraction": 1},
        "batch_size": batch,
    }


def largest() -> dict[str, Any]:
    from tests.web.largest import largest as make

    return make()


def upload(base: str, scenario: dict[str, Any]) -> str:
    req = urllib.request.Request(
        base + "/api/scenarios", json.dumps(scenario).encode(), {"content-type": "application/json"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=120) as r:
        return str(json.loads(r.read())["id"])


async def answer(ws: Any, kind: str, timeout: float = 300) -> float:
    """Read until an event of type `kind`; when it came (an `error` fails the run)."""
    end, head = time.monotonic() + timeout, f'{{"type":"{kind}"'.encode()
    while time.monotonic() < end:
        m = await asyncio.wait_for(ws.recv(decode=False), end - time.monotonic())  # bytes: no UTF-8 check
        if m.startswith(b'{"type":"error"'):
            raise RuntimeError(m[:300].decode(errors="replace"))
        if m.startswith(head):
            return time.monotonic()
    raise TimeoutError(kind)


async def stepping(ws: Any, stop: asyncio.Event, out: list[float]) -> None:
    """worked-example steps back to back until `stop`: each round trip in ms."""
    while not stop.is_set():
        t0 = time.perf_counter()
        await ws.send(STEP)
        await until_maps(ws)
        out.append((time.perf_counter() - t0) * 1e3)


def heavy_commands() -> dict[str, tuple[dict[str, Any] | None, str, str]]:
    """Each heavy command: the scenario loaded first (None: the largest, by upload), the
    command, and the event that ends its answer."""
    return {
        "gradcheck": (doc([2, 64, 64, 1], 500), '{"type":"gradcheck"}', "gradcheck"),
        "slice": (doc([2] + [64] * 9 + [1], 10_000), '{"type":"slice","layer":1,"to":0,"from":0,"points":41}', "slice"),
        "traced_step": (doc([2, 64, 64, 1], 10_000), STEP, "epoch"),  # epoch: its last event
        "load_largest": (None, "", "dataset"),
        "train_large": (doc([2, 64, 64, 1], 10_000), '{"type":"play","mode":"train"}', ""),  # "": for a window
    }


async def heavy_client(name: str, ws_url: str, base: str) -> None:
    """The client of one heavy command, in a process of its own (`--heavy NAME WS BASE`), so that
    receiving its large answers does not delay the timed client: loads, says `ready`, waits for
    a line on stdin, runs the command until BUSY_SECONDS have passed, says `done SECONDS RUNS`."""
    # on a school's network the heavy client is another machine; here it shares the server's two
    # cores, so it takes only what neither the server nor the timed client wants
    os.nice(19)
    scenario, cmd, kind = heavy_commands()[name]
    ws = await ws_connect(ws_url)
    await until_maps(ws)
    if scenario is None:
        ref = await asyncio.to_thread(upload, base, largest())
        cmd = json.dumps({"type": "load", "ref": ref})
    else:
        await ws.send(json.dumps({"type": "load", "scenario": scenario}))
        await until_maps(ws)  # the whole welcome
    print("ready", flush=True)
    for _ in range(ROUNDS):  # each window: at least one run, again until the window's end
        await asyncio.to_thread(sys.stdin.readline)
        t0, runs = time.monotonic(), 0
        while runs == 0 or time.monotonic() - t0 < BUSY_SECONDS / ROUNDS:
            await ws.send(cmd)
            if kind:
                await answer(ws, kind)
            else:  # it plays: its frames read for the window, then a pause
                await reading(ws, t0 + BUSY_SECONDS / ROUNDS)
                await ws.send('{"type":"pause"}')
                paused = b'"playing":null'
                while not ((m := await ws.recv(decode=False)).startswith(b'{"type":"state"') and paused in m):
                    pass
            runs += 1
        print("done", time.monotonic() - t0, runs, flush=True)
    await ws.close()


async def reading(ws: Any, until: float) -> None:
    """Read (and drop) what the server sends until monotonic time `until`."""
    while (left := until - time.monotonic()) > 0:
        try:
            await asyncio.wait_for(ws.recv(decode=False), left)
        except TimeoutError:
            return


async def while_running(probe: Any, server: Server, name: str) -> dict[str, Any]:
    """The probe's step round trips while another process's client runs heavy command `name`,
    against its idle round trips in the windows between (this machine's load drifts)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.pressure", "--heavy", name, server.ws_url, server.base,
        stdin=PIPE, stdout=PIPE, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    if not (await proc.stdout.readline()).startswith(b"ready"):
        raise RuntimeError(f"the {name} client failed")
    idle: list[float] = []
    rtts: list[float] = []
    seconds, runs = 0.0, 0
    for _ in range(ROUNDS):
        idle += await steps_for(probe, IDLE_SECONDS / ROUNDS)
        stop = asyncio.Event()
        task = asyncio.create_task(stepping(probe, stop, rtts))
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        done = (await proc.stdout.readline()).split()
        stop.set()
        await task
        if not done or done[0] != b"done":
            raise RuntimeError(f"the {name} client failed")
        seconds, runs = seconds + float(done[1]), runs + int(done[2])
    await proc.wait()
    p99 = percentile(rtts, 99)
    return {
        "seconds": seconds / runs,
        "runs": runs,
        "steps": len(rtts),
        "p50_ms": percentile(rtts, 50),
        "p99_ms": p99,
        "idle_p99_ms": percentile(idle, 99),
        "p99_ratio": p99 / percentile(idle, 99),
    }


async def probe_session(server: Server) -> Any:
    """A connection on worked-example, past its welcome: the session whose steps are timed."""
    probe = await ws_connect(server.ws_url)
    await until_maps(probe)
    await probe.send('{"type":"load","preset":"worked-example"}')
    await until_maps(probe)
    return probe


async def steps_for(probe: Any, seconds: float) -> list[float]:
    """The probe's step round trips (ms), back to back for `seconds`."""
    stop, rtts = asyncio.Event(), []
    task = asyncio.create_task(stepping(probe, stop, rtts))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    return rtts


async def measure() -> dict[str, Any]:
    r: dict[str, Any] = {}
    with Server() as server:
        assert server.proc is not None
        pid = server.proc.pid
        probe = await probe_session(server)
        idle = await steps_for(probe, 3.0)
        r["idle"] = {"steps": len(idle), "p50_ms": percentile(idle, 50), "p99_ms": percentile(idle, 99)}

        for name in heavy_commands():
            r[name] = await while_running(probe, server, name)

        # memory: a client that asks for big answers and never reads them
        rss0 = rss_mb(pid)
        lazy = await ws_connect(server.ws_url)
        await lazy.send(json.dumps({"type": "load", "scenario": doc([2, 64, 64, 1], 10_000)}))
        for _ in range(12):
            await lazy.send(STEP)
        await asyncio.sleep(15.0)
        r["never_reads"] = {"rss_before_mb": rss0, "rss_after_mb": rss_mb(pid)}
        await lazy.close()

        # memory: edits after every step on a deep Adam net, then the client leaves
        rss0 = rss_mb(pid)
        editor = await ws_connect(server.ws_url)
        await until_maps(editor)
        deep = doc([1] + [64] * 9 + [1], 2, samples=2, optimizer="adam")
        deep["data"] = {"train": {"x": [[0.0], [1.0]], "y": [[0.0], [1.0]]}}
        await editor.send(json.dumps({"type": "load", "scenario": deep}))
        await answer(editor, "dataset")
        for k in range(2500):
            await editor.send(STEP)
            await editor.send(json.dumps({"type": "set_bias", "layer": 1, "unit": 0, "value": k / 1e4}))
            await answer(editor, "state")
        r["edits"] = {"rss_before_mb": rss0, "rss_with_client_mb": rss_mb(pid)}
        await editor.close()
        await asyncio.sleep(1.0)
        r["edits"]["rss_after_leaving_mb"] = rss_mb(pid)
        await probe.close()
    r["silent_trainers"] = await silent_trainers()
    r["holds"] = await holds.measure()
    return r


async def silent_trainers(n: int = 50, seconds: float = 6.0) -> dict[str, Any]:
    """`n` clients set their sessions training and never read a byte; another client steps.

    Their frames fill their sockets, and each run pauses once no frame is taken for a second;
    the stepping client's round trips once the server's CPU shows them paused, against the
    same client with nobody else there, and the server's RSS."""
    with Server() as server:
        assert server.proc is not None
        pid = server.proc.pid
        probe = await probe_session(server)
        idle = await steps_for(probe, seconds)
        rss0 = rss_mb(pid)
        silent = [await ws_connect(server.ws_url) for _ in range(n)]
        for ws in silent:
            await ws.send('{"type":"play","mode":"train","fps":30}')
        # their runs pause once no frame is taken for 1 s (docs/reliability.md): wait for that
        t0, used = time.monotonic(), cpu_seconds(pid)
        while time.monotonic() - t0 < 30:
            await asyncio.sleep(1.0)
            used, before = cpu_seconds(pid), used
            if used - before < 0.05:
                break
        paused_after = time.monotonic() - t0
        busy = await steps_for(probe, seconds)
        out = {
            "clients": n,
            "idle_p99_ms": percentile(idle, 99),
            "busy_p99_ms": percentile(busy, 99),
            "rss_before_mb": rss0,
            "rss_after_mb": rss_mb(pid),
            "paused_after_s": paused_after,
        }
        out["p99_ratio"] = out["busy_p99_ms"] / out["idle_p99_ms"]
        for ws in silent:
            ws.transport.abort()
        await probe.close()
    return out


def report(r: dict[str, Any]) -> str:
    lines = [f"another session's step, idle: p50 {r['idle']['p50_ms']:.2f} ms, p99 {r['idle']['p99_ms']:.2f} ms"]
    for k in ("gradcheck", "slice", "traced_step", "load_largest", "train_large"):
        v = r[k]
        lines.append(
            f"  while {k:<13} ({v['seconds']:6.2f} s x {v['runs']}):"
            f" p50 {v['p50_ms']:6.2f} ms, p99 {v['p99_ms']:6.2f} ms,"
            f" idle between {v['idle_p99_ms']:6.2f} ms, p99 ratio {v['p99_ratio']:.2f} (target ≤ 2)"
        )
    n, e = r["never_reads"], r["edits"]
    lines.append(f"never reads 12 big steps: RSS {n['rss_before_mb']:.0f} -> {n['rss_after_mb']:.0f} MB")
    lines.append(
        f"2,500 step + set_bias: RSS {e['rss_before_mb']:.0f} -> {e['rss_with_client_mb']:.0f} MB,"
        f" {e['rss_after_leaving_mb']:.0f} MB after it left"
    )
    if "silent_trainers" in r:
        q = r["silent_trainers"]
        lines.append(
            f"{q['clients']} clients train and never read: another client's step p99 {q['idle_p99_ms']:.2f} ->"
            f" {q['busy_p99_ms']:.2f} ms (ratio {q['p99_ratio']:.2f}, target ≤ 1.5); RSS {q['rss_before_mb']:.0f}"
            f" -> {q['rss_after_mb']:.0f} MB; their runs paused within {q['paused_after_s']:.1f} s"
        )
    if "holds" in r:
        lines.append(holds.report(r["holds"]))
    return "\n".join(lines)


def main() -> int:
    if sys.argv[1:2] == ["--heavy"]:
        asyncio.run(heavy_client(*sys.argv[2:5]))
        return 0
    r = asyncio.run(measure())
    print(report(r))
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
