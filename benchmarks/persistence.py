"""What saving costs the event loop, and how long a save and a restore take.

    python benchmarks/persistence.py

For each case it saves a session once a tick (as the server does, at most once a second per
session) into a database file in a temporary folder, while a 0.5 ms ticker on the loop
records how late it wakes; then it reads the session back. Figures: the copy made in the
loop per save (median, max), the loop's lateness while the writer thread works (p99, max)
against the same ticker with no saving, the bytes of one save, and the time to restore.
"""

import asyncio
import copy
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import app  # noqa: E402, F401, I001
import numpy as np  # noqa: E402

from app import scenario as sc  # noqa: E402
from app.session import persist  # noqa: E402
from app.session.persist import Saver  # noqa: E402
from app.session.session import Options, Session  # noqa: E402

SAVES = 15
BIG = {"layers": [2] + [64] * 9 + [1], "activations": ["tanh"] * 9 + ["sigmoid"]}


def cases() -> dict[str, dict[str, Any]]:
    circle = sc.preset("circle")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10_000, 64))
    given = {
        **circle,
        "layers": [64, 16, 1],
        "activations": ["tanh", "sigmoid"],
        "data": {"train": {"x": x.tolist(), "y": (x[:, :1] > 0).astype(float).tolist()}},
    }
    return {
        "circle (preset)": circle,
        "10 x 64 tanh, adam": {**copy.deepcopy(circle), **BIG, "optimizer": {"type": "adam"}},
        "10 x 64 tanh, lbfgs memory 50": {
            **copy.deepcopy(circle),
            **BIG,
            "optimizer": {"type": "lbfgs", "memory": 50},
            "batch_size": 250,
        },
        "10,000 x 64 given examples": given,
    }


async def lateness(seconds: float, busy: list[bool]) -> list[float]:
    late: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        await asyncio.sleep(0.0005)
        if not busy[0]:
            late.append(time.perf_counter() - t - 0.0005)
    return late


async def measure(doc: dict[str, Any], folder: str) -> dict[str, float]:
    sys.setswitchinterval(0.0005)  # as the server sets it
    s = Session("b" * 22, doc, Options(), None)
    saver = Saver(str(Path(folder) / "bench.db"))
    base = await lateness(1.0, [False])
    busy = [False]
    ticker = asyncio.create_task(lateness(SAVES * 0.25, busy))
    copies = []
    for _ in range(SAVES):
        busy[0] = True  # the training step is the loop's own work: not counted
        for _ in range(3):
            s.trainer.step()
            s.cursor.complete([])
        await asyncio.sleep(0.002)
        busy[0] = False
        s.dirty = True
        t = time.perf_counter()
        saver.save(s)
        copies.append(time.perf_counter() - t)
        await asyncio.sleep(0.25)
    late = await ticker
    saver.submit(lambda: None).result()
    size = saver.submit(lambda: saver.store.db.execute("PRAGMA page_count").fetchone()[0]).result() * 4096
    t = time.perf_counter()
    row = saver.load(s.id)
    assert row is not None
    back = persist.rebuild(row, Options())
    restore = time.perf_counter() - t
    assert all(np.array_equal(a, b) for a, b in zip(back.trainer.net.params, s.trainer.net.params))
    saver.close()
    ms = 1e3
    return {
        "copy_median_ms": float(np.median(copies)) * ms,
        "copy_max_ms": max(copies) * ms,
        "late_p99_ms": float(np.percentile(late, 99)) * ms,
        "late_max_ms": max(late) * ms,
        "idle_late_p99_ms": float(np.percentile(base, 99)) * ms,
        "idle_late_max_ms": max(base) * ms,
        "db_mb": size / 2**20,
        "restore_ms": restore * ms,
    }


def main() -> int:
    keys = ["copy_median_ms", "copy_max_ms", "late_p99_ms", "late_max_ms", "idle_late_p99_ms", "idle_late_max_ms"]
    keys += ["db_mb", "restore_ms"]
    print("| case | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, doc in cases().items():
        with tempfile.TemporaryDirectory() as folder:
            r = asyncio.run(measure(doc, folder))
        print(f"| {name} | " + " | ".join(f"{r[k]:.2f}" for k in keys) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
