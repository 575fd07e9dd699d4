"""How long the event loop is held, command by command, on a large run.

    python benchmarks/holds.py

Starts the server through `python -m benchmarks.holds serve ...`, which records the CPU time
of every callback the event loop runs (in the loop's own thread, so it is the loop's hold,
whatever else the machine is doing) over HOLD_FLOOR_MS, with the time it ended. One client
then loads 2-64-64-1 with Adam and a batch of 10,000 (a step is ~40 ms of numpy) and sends
each command of COMMANDS; a `play` runs for PLAY_SECONDS. A command's window ends when the
state of a `select` sent after it arrives. The row is the longest hold in each window;
target: none over TARGET_MS. docs/performance.md records a run.
"""

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import Server, until_maps  # noqa: E402

HOLD_FLOOR_MS = 0.5  # holds shorter than this are not written
TARGET_MS = 3.0
PLAY_SECONDS = 2.0
RUN = {
    "name": "holds",
    "layers": [2, 64, 64, 1],
    "activations": ["tanh", "tanh", "sigmoid"],
    "optimizer": {"type": "adam"},
    "data": {"generator": "circle", "samples": 10_000, "train_fraction": 0.8},
    "batch_size": 10_000,
}
COMMANDS: list[dict[str, Any]] = [
    {"type": "load", "scenario": RUN},
    {"type": "step"},
    {"type": "step", "count": 5},
    {"type": "epoch"},
    {"type": "next"},
    {"type": "next"},
    {"type": "play", "mode": "train"},
    {"type": "pause"},
    {"type": "play", "mode": "animate", "speed": 30},
    {"type": "pause"},
    {"type": "seek", "step": 3},
    {"type": "set_weight", "layer": 1, "to": 0, "from": 0, "value": 0.5},
    {"type": "set_bias", "layer": 1, "unit": 0, "value": 0.5},
    {"type": "set", "learning_rate": 0.01},
    {"type": "set", "batch_size": 5000},
    {"type": "breakpoints", "on": [{"kind": "vanishing", "threshold": 1e-6}]},
    {"type": "branch", "from_step": 2, "change": {"learning_rate": 0.1}},
    {"type": "play", "mode": "train"},
    {"type": "pause"},
    {"type": "branch_drop", "branch": "b"},
    {"type": "slice", "layer": 1, "to": 0, "from": 0, "points": 5},
    {"type": "graph", "layer": 1, "unit": 0},
    {"type": "reset"},
]


def name(cmd: dict[str, Any]) -> str:
    if cmd["type"] == "play":
        return f"play {cmd['mode']}"
    if cmd["type"] == "set":
        return "set " + next(k for k in cmd if k != "type")
    return "step, count 5" if "count" in cmd else cmd["type"]


def serve() -> None:
    """The server, with every event-loop callback timed (asyncio's own loop: uvloop's handles are not Python)."""
    import asyncio.events

    import uvicorn

    out = open(os.environ["DELTAFLOW_HOLDS_FILE"], "a", buffering=1)
    run = asyncio.events.Handle._run

    def timed(self: asyncio.events.Handle) -> None:
        c0 = time.thread_time()
        run(self)
        held = (time.thread_time() - c0) * 1e3
        if held >= HOLD_FLOOR_MS:
            out.write(f"{time.time():.4f} {held:.3f}\n")

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]
    serve_with = uvicorn.run
    uvicorn.run = lambda *a, **k: serve_with(*a, **{**k, "loop": "asyncio"})  # type: ignore[assignment]
    from app.cli import main

    sys.argv = ["deltaflow", *sys.argv[1:]]
    sys.exit(main())


async def measure() -> dict[str, Any]:
    from benchmarks.rooms import ws_connect

    with tempfile.NamedTemporaryFile("r", suffix=".holds") as f:
        with Server({"DELTAFLOW_HOLDS_FILE": f.name}, module="benchmarks.holds") as server:
            ws = await ws_connect(server.ws_url)
            await until_maps(ws)
            windows = []
            for k, cmd in enumerate(COMMANDS):
                t0 = time.time()
                await ws.send(json.dumps(cmd))
                if cmd["type"] == "play":
                    await asyncio.sleep(PLAY_SECONDS)
                marker = 5 + k % 2  # the state after this select is the first to show it
                await ws.send(json.dumps({"type": "select", "example": marker}))
                while True:
                    m = await asyncio.wait_for(ws.recv(decode=False), 120)
                    if m.startswith(b'{"type":"error"'):
                        raise RuntimeError(m[:300].decode(errors="replace"))
                    if m.startswith(b'{"type":"state"') and json.loads(m)["selected"] == marker:
                        break
                windows.append((name(cmd), t0, time.time()))
            await ws.close()
        holds = [tuple(map(float, line.split())) for line in f]
    rows = {}
    for label, t0, t1 in windows:
        inside = [ms for t, ms in holds if t0 <= t <= t1]
        rows[label] = {"holds": len(inside), "longest_ms": max(inside, default=0.0), "seconds": t1 - t0}
    return {"commands": rows, "longest_ms": max((r["longest_ms"] for r in rows.values()), default=0.0)}


def report(r: dict[str, Any]) -> str:
    lines = [f"the event loop's longest hold, by command, on 2-64-64-1 at batch 10,000 (target ≤ {TARGET_MS:g} ms):"]
    for label, v in r["commands"].items():
        over = f"{v['holds']} over {HOLD_FLOOR_MS:g} ms in {v['seconds']:.1f} s"
        lines.append(f"  {label:<18} {v['longest_ms']:6.2f} ms  ({over})")
    lines.append(f"  longest of all: {r['longest_ms']:.2f} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    r = asyncio.run(measure())
    print(report(r))
    print(json.dumps(r))
