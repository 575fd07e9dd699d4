"""The engine rows: the untraced Trainer.step() and the maps, timed in this process against a
hand-written numpy floor (no server involved)."""

# `app` first, as in the server: it sets OPENBLAS_NUM_THREADS=1, which counts only before numpy loads
import app  # noqa: F401, I001
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from app import scenario as sc
from app.nn.trainer import Trainer
from app.session import maps
from app.session.breakpoints import Breakpoints
from benchmarks.common import Budget, percentile, take

SIZES = [[2, 4, 2, 1], [2, 8, 8, 1], [2, 16, 16, 16, 1], [2, 64, 64, 1]]
BATCHES = [1, 10, 50, None]  # None: the whole training set


# --- pure helpers (tests/test_benchmarks.py checks these) ----------------------------------------
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


# --- timing --------------------------------------------------------------------------------------
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


# --- the rows ------------------------------------------------------------------------------------
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


# every kind at once, with thresholds that never fire, so the run is checked but never stops
EVERY_BREAKPOINT = [
    {"kind": "loss_increase", "k": 1000},
    {"kind": "vanishing", "threshold": 1e-300},
    {"kind": "exploding", "threshold": 1e300},
    {"kind": "dead_units"},
    {"kind": "saturated", "epsilon": 1e-300, "fraction": 1.0},
    {"kind": "step", "step": 10**12},
    {"kind": "accuracy", "value": 1.0},
]


def breakpoints_vs_floor(doc: dict[str, Any], seconds: float) -> dict[str, float]:
    """Epochs of untraced steps with every breakpoint kind checked as a training slice checks
    them (app/session/cursor.py train_for), against the floor and the engine alone."""
    t, floor = floor_of(doc)
    t2 = sc.build(sc.parse(doc)).trainer
    bp = Breakpoints()
    bp.set(EVERY_BREAKPOINT, t2)
    task = sc.build(sc.parse(doc)).task
    steps = math.ceil(len(t.x) / t.batch_size)

    def engine_epoch() -> None:
        for _ in range(steps):
            t.step()

    def checked_epoch() -> None:
        for _ in range(steps):
            t2.step()
            if t2.step_count >= bp.next_at:
                bp.at(t2, task)

    per = median_timed({"engine": engine_epoch, "checked": checked_epoch, "floor": floor}, seconds)
    # the checks' share of the CPU time of a checked run: steadier under load than wall-clock ratios
    stepping = checking = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a = time.thread_time()
        for _ in range(steps):
            t2.step()
        b = time.thread_time()
        bp.check(t2, task)
        stepping += (b - a) * bp.every
        checking += time.thread_time() - b
    return {
        "stride_epochs": bp.every,
        "breakpoints_cpu_share": checking / (checking + stepping),
        "breakpoints_epochs_per_s": 1.0 / per["checked"],
        "breakpoints_floor_ratio": per["floor"] / per["checked"],  # >= 0.8: the target
        "breakpoints_engine_ratio": per["engine"] / per["checked"],
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


def engine_rows(budget: Budget, quick: bool) -> dict[str, Any]:
    r: dict[str, Any] = {}
    circle = engine_vs_floor(circle_doc(), budget.engine_seconds)
    take(r, circle, engine_step_us="engine_step_us", numpy_floor_step_us="floor_step_us")
    take(r, circle, engine_floor_step_ratio="ratio", engine_only_epochs_per_s="engine_epochs_per_s")
    r.update(grid_costs(circle_doc(), budget.engine_seconds / 2))
    r.update(breakpoints_vs_floor(circle_doc(), budget.engine_seconds))
    if not quick:
        sizes = []
        for layers in SIZES:
            row = engine_vs_floor(circle_doc(layers=layers), budget.engine_seconds)
            row.update(grid_costs(circle_doc(layers=layers), budget.engine_seconds / 2))
            sizes.append({"layers": "-".join(map(str, layers)), **row})
        r["sweep_size"] = sizes
        r["sweep_batch"] = [engine_vs_floor(circle_doc(batch_size=b or 10_000), budget.engine_seconds) for b in BATCHES]
    return r
