"""Maps drawn in the page: what a client receives and what the server spends, with and without
/ws?maps=page, and what drawing the maps costs the page's worker.

    python benchmarks/pagemaps.py [--seconds S]

For each preset, one session on a fresh server trains in train mode (30 frames/s) with one
client, connected with maps=page or not:
- bytes/s: every websocket message the client receives over the window, text and binary;
- flat out: the server's steps/s and CPU (user + system, /proc) per wall second;
- at a fixed rate of RATE steps/s: the server's CPU per wall second, which is then the cost of
  the frames themselves (with or without their maps).
Then, in headless Chromium, the median time of static/planemaps.js packMaps per frame.
"""

import argparse
import asyncio
import functools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import CHROMIUM, CHROMIUM_ARGS, PAUSE, Server, connect, cpu_seconds, recv  # noqa: E402
from benchmarks.page import deep_net  # noqa: E402

RATE = 200  # steps per second of the fixed-rate rows
WARMUP = 1.0
PRESETS: list[tuple[str, dict[str, Any]]] = [
    ("circle", {"preset": "circle"}),
    ("spiral", {"preset": "spiral"}),
    ("2-8-8-8-1", deep_net()),
]


async def window(server: Server, ws: Any, seconds: float, play: dict[str, Any]) -> dict[str, float]:
    """Train for WARMUP + `seconds`; over the last `seconds`: bytes/s received, the server's
    CPU per second, and steps per second."""
    assert server.proc is not None
    await ws.send(json.dumps({"type": "play", "mode": "train", "fps": 30, **play}))
    t0 = time.perf_counter()
    nbytes, first, last = 0, None, None
    cpu0 = start = 0.0
    while True:
        m = await recv(ws)
        now = time.perf_counter()
        if first is None and now - t0 >= WARMUP:
            cpu0, start, nbytes = cpu_seconds(server.proc.pid), now, 0
            first = None if isinstance(m, bytes) else _step(m)
        if start:
            nbytes += len(m) if isinstance(m, bytes) else len(m.encode())
            step = None if isinstance(m, bytes) else _step(m)
            if first is None:
                first = step
            last = step if step is not None else last
        if start and now - start >= seconds:
            break
    cpu = cpu_seconds(server.proc.pid) - cpu0
    wall = time.perf_counter() - start
    await ws.send(PAUSE)
    while True:  # up to the pause's state
        m = await recv(ws)
        if isinstance(m, str) and m.startswith('{"type":"state"') and '"playing":null' in m:
            break
    steps = (last or 0) - (first or 0)
    return {"bytes_per_s": nbytes / wall, "cpu_per_s": cpu / wall, "steps_per_s": steps / wall}


def _median(got: list[tuple[dict[str, float], dict[str, float]]], k: int, key: str) -> float:
    return statistics.median(r[k][key] for r in got)


def _step(text: str) -> int | None:
    if not text.startswith('{"type":"frame"'):
        return None
    step: int = json.loads(text)["step"]
    return step


async def server_rows(seconds: float, repeat: int) -> list[dict[str, Any]]:
    """Per preset and maps setting, the median over `repeat` runs (the two settings alternate,
    so that a busy moment of the machine does not fall on one of them only)."""
    runs: dict[tuple[str, str], list[tuple[dict[str, float], dict[str, float]]]] = {}
    for name, load in PRESETS:
        for _ in range(repeat):
            for maps in ("server", "page"):
                with Server() as server:
                    ws = await connect(f"{server.ws_url}?maps={maps}", load)
                    flat = await window(server, ws, seconds, {})
                    rated = await window(server, ws, seconds, {"steps_per_second": RATE})
                    await ws.close()
                runs.setdefault((name, maps), []).append((flat, rated))
    rows = []
    for (name, maps), got in runs.items():
        med = functools.partial(_median, got)
        rows.append(
            {
                "preset": name,
                "maps": maps,
                "bytes_per_s": round(med(0, "bytes_per_s")),
                "flat_steps_per_s": round(med(0, "steps_per_s")),
                "flat_cpu_per_s": round(med(0, "cpu_per_s"), 3),
                "rated_cpu_per_s": round(med(1, "cpu_per_s"), 3),
                "rated_bytes_per_s": round(med(1, "bytes_per_s")),
            }
        )
    return rows


# the page's own packMaps on random weights of each shape, timed over `n` draws after 5 to warm up
DRAW = """async ([shapes, acts, n]) => {
  const { packMaps } = await import("./static/planemaps.js");
  const rnd = (r, c) => Array.from({ length: r }, () => Array.from({ length: c }, () => Math.random() * 2 - 1));
  const weights = shapes.slice(1).map((k, l) => rnd(k, shapes[l]));
  const biases = shapes.slice(1).map((k) => rnd(1, k)[0]);
  const times = [];
  for (let r = 0; r < n + 5; r++) {
    const t0 = performance.now();
    packMaps({ activations: acts, weights, biases }, [-6, 6, -6, 6], r, r);
    if (r >= 5) times.push(performance.now() - t0);
  }
  return times;
}"""


def draw_rows() -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    shapes = [("circle", [2, 4, 2, 1]), ("spiral", [2, 8, 8, 1]), ("2-8-8-8-1", [2, 8, 8, 8, 1])]
    rows = []
    with Server() as server, sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = b.new_page()
        page.goto(server.base + "/")
        for name, layers in shapes:
            times = page.evaluate(DRAW, [layers, ["tanh"] * (len(layers) - 1), 30])
            rows.append({"preset": name, "draw_ms_median": round(statistics.median(times), 2)})
        b.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    rows = asyncio.run(server_rows(args.seconds, args.repeat))
    for r in rows:
        print(json.dumps(r))
    if not args.no_browser and Path(CHROMIUM).exists():
        for r in draw_rows():
            print(json.dumps(r))


if __name__ == "__main__":
    main()
