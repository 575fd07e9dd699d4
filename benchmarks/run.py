"""Measure Deltaflow against floors taken in the same run, and print a table and one JSON line.

    python benchmarks/run.py [--quick] [--no-browser] [--server-env KEY=VALUE ...]
                             [--rooms-only] [--pressure-only] [--page-only] [--redis-only]

Starts `python -m app.cli serve` (the `deltaflow serve` entry point) on a free loopback port,
drives it with one asyncio websocket client, times the engine and a hand-written numpy loop
in this process, and, when /usr/bin/chromium exists, the page in headless Chromium.
The full run then adds the classroom (benchmarks/rooms.py), pressure (benchmarks/pressure.py)
and light-page (benchmarks/page.py) and rooms-through-Redis (benchmarks/fanout.py) sections;
--rooms-only, --pressure-only, --page-only and --redis-only run just those.
The machine is small and noisy, so every figure is a median or p99 over many samples and each
target compares against a floor measured in this same run. docs/performance.md explains them.
The rows live in benchmarks/engine.py, server.py and browser.py; this module only runs them.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/run.py` puts benchmarks/ first, not the checkout

# `app` first, as in the server: it sets OPENBLAS_NUM_THREADS=1, which counts only before numpy loads
import app  # noqa: E402, F401, I001
import numpy as np  # noqa: E402

from app.web.main import keep_freed_memory  # noqa: E402
from benchmarks import fanout, page, pressure, rooms  # noqa: E402
from benchmarks.browser import static_bytes  # noqa: E402
from benchmarks.common import Budget, Server  # noqa: E402
from benchmarks.engine import engine_rows  # noqa: E402
from benchmarks.server import server_rows  # noqa: E402

WATCHDOG = {True: 120.0, False: 900.0}  # the whole server part, quick and full
SECTION_WATCHDOG = 900.0  # each of the classroom, pressure and Redis sections

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

QUICK = Budget(steps=250, train_seconds=3.0, engine_seconds=1.0, browser_seconds=3.0)
FULL = Budget(steps=1000, train_seconds=5.0, engine_seconds=2.0, browser_seconds=5.0)

ROOMS = (300, 2, 8.0)  # viewers, viewer client processes, seconds per window


@dataclass(frozen=True)
class Section:
    """A benchmark of its own that the full run includes; it starts its own server."""

    prefix: str  # of its keys in the JSON
    title: str
    measure: Callable[[], Coroutine[Any, Any, dict[str, Any]]]
    report: Callable[[dict[str, Any]], str]  # its lines, from its keys without the prefix


SECTIONS = {
    "rooms": Section(
        "room_",
        f"Classroom: one presenter, {ROOMS[0]} viewers in {ROOMS[1]} processes, {ROOMS[2]:g} s windows",
        lambda: rooms.measure(*ROOMS),
        rooms.report,
    ),
    "pressure": Section("pressure_", "Pressure: heavy commands and memory", pressure.measure, pressure.report),
    "page": Section(
        "page_",
        f"Light page: main thread and frames while playing, normal and {page.THROTTLE:g}x throttled CPU",
        page.measure,
        page.report,
    ),
    "redis": Section(
        "redis_",
        f"Rooms through Redis: one presenter at 30 frames/s, {fanout.VIEWERS} viewers over "
        f"{', '.join(map(str, fanout.RUNS))} worker processes",
        fanout.measure,
        fanout.report,
    ),
}


def verdict(
    results: dict[str, Any], key: str, op: str, limit: float, floor: str | None
) -> tuple[float | None, bool | None]:
    """The bound a target sets in this run, and whether it is met (None when not measured)."""
    value = results.get(key)
    bound = limit * results[floor] if floor and results.get(floor) is not None else (None if floor else limit)
    if value is None or bound is None:
        return bound, None
    return bound, value <= bound if op == "<=" else value >= bound


# --- the report ---------------------------------------------------------------------------------
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


def section_rows(r: dict[str, Any], section: Section) -> dict[str, Any]:
    """A section's own result, its keys without the prefix (empty when it did not finish)."""
    return {k[len(section.prefix) :]: v for k, v in r.items() if k.startswith(section.prefix)}


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    label = " and ".join(r["only"]) + " only" if r.get("only") else "quick" if r["quick"] else "full"
    parts = [
        f"Deltaflow benchmarks ({label}) on {m['nproc']} x {m['cpu']}, "
        f"Python {m['python']}, numpy {m['numpy']}, {r['elapsed_s']:.1f} s, "
        f"load {m['loadavg_1m_start']:.2f} -> {m['loadavg_1m_end']:.2f}"
    ]
    if "targets" in r:  # the engine, server and page rows ran
        skip = ("sweep_", "targets", "machine", "errors", *(s.prefix for s in SECTIONS.values()))
        keys = [k for k in r if not k.startswith(skip) and not isinstance(r[k], dict)]
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
    for section in SECTIONS.values():
        done = section_rows(r, section)
        if done:
            parts.append(f"\n{section.title}\n{section.report(done)}")
    return "\n".join(parts)


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


@contextlib.contextmanager
def kept_affinity() -> Iterator[None]:
    """Give this process back its CPUs afterwards: the classroom pins it to one core, and every
    server started later would inherit that."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        yield
    finally:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)


def run_section(name: str, r: dict[str, Any]) -> None:
    """One section into `r`, its keys prefixed; a failure goes to r["errors"] and keeps the rest."""
    section = SECTIONS[name]
    try:
        with kept_affinity():
            out = asyncio.run(asyncio.wait_for(section.measure(), SECTION_WATCHDOG))
    except Exception as e:
        why = f"the watchdog stopped it after {SECTION_WATCHDOG:g} s" if isinstance(e, TimeoutError) else str(e)
        r["errors"].append(f"{name}: {type(e).__name__}: {why}")
        return
    r.update({section.prefix + k: v for k, v in out.items()})


def run(
    quick: bool, browser: bool, server_env: dict[str, str] | None = None, only: list[str] | None = None
) -> dict[str, Any]:
    """The full or quick run; with `only` (names in SECTIONS), just those sections."""
    budget = QUICK if quick else FULL
    keep_freed_memory()  # the server's process settings, so that the engine rows measure what it runs
    t = time.perf_counter()
    r: dict[str, Any] = {"quick": quick, "machine": machine()}
    if only:
        r["only"] = only
    else:
        r.update(engine_rows(budget, quick))
    if server_env:
        r["server_env"] = server_env
    r["errors"] = []
    if not only:
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
    for name in only or ([] if quick else [n for n in SECTIONS if browser or n != "page"]):
        run_section(name, r)
    if not only:
        r["targets"] = {key: verdict(r, key, op, limit, floor)[1] for key, op, limit, floor in TARGETS}
    r["machine"]["loadavg_1m_end"] = os.getloadavg()[0]
    r["elapsed_s"] = time.perf_counter() - t
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples, no sweeps and no sections: within 45 s")
    ap.add_argument("--no-browser", action="store_true", help="skip headless Chromium")
    ap.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set in the server's environment, e.g. to try a setting (repeatable; not the sections' servers)",
    )
    ap.add_argument("--rooms-only", action="store_true", help="run only the classroom section (benchmarks/rooms.py)")
    ap.add_argument(
        "--pressure-only", action="store_true", help="run only the pressure section (benchmarks/pressure.py)"
    )
    ap.add_argument("--page-only", action="store_true", help="run only the light-page section (benchmarks/page.py)")
    ap.add_argument(
        "--redis-only", action="store_true", help="run only the rooms-through-Redis section (benchmarks/fanout.py)"
    )
    args = ap.parse_args(argv)
    env = dict(kv.split("=", 1) for kv in args.server_env)
    flags = (
        ("rooms", args.rooms_only),
        ("pressure", args.pressure_only),
        ("page", args.page_only),
        ("redis", args.redis_only),
    )
    only = [name for name, on in flags if on]
    r = run(args.quick, not args.no_browser, env, only)
    print(report(r))
    print(json.dumps(r, default=float, separators=(",", ":")))
    return 1 if r["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
