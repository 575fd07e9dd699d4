"""Saving sessions so they survive a crash, and bringing them back.

The event loop only copies (`capture`: the trainer's arrays at the last completed step, and
references to what never changes in place: checkpoints, the scenario, the data); packing and
SQL happen in one writer thread fed by a queue. A session is written at most every
`interval` seconds while it changes, and at once when its last connection leaves, before it
is evicted or expires, and at shutdown. Checkpoints are written once each: a save sends only
those the store does not have yet.
"""

import asyncio
import logging
import math
import queue
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import TypeAdapter

from app import scenario as sc
from app.session import dataedit
from app.session.cursor import Cursor, Options
from app.session.history import Snapshot
from app.session.store import Packed, Row, Store, is_full, pack, unpack

if TYPE_CHECKING:
    from app.session.registry import Registry
    from app.session.session import Session

log = logging.getLogger("deltaflow.store")
TICK = 0.2  # seconds between looks for sessions due a save
SWEEP_SECONDS = 0.001  # copying done in the loop per tick, at most (then the rest wait a tick)
FULL_RETRY = 60.0  # seconds between tries to write once the disk was found full
DAY = 86_400.0
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_optimizer: TypeAdapter[Any] = TypeAdapter(sc.OptimizerSpec)


@dataclass
class Record:
    """What the store has of one session, as far as the loop knows."""

    cursor: Cursor | None = None  # the run whose scenario was written
    serials: dict[int, int] = field(default_factory=dict)  # of the checkpoints written (or on their way)
    saved_at: float = -math.inf  # time.monotonic() of the last capture
    inflight: bool = False  # a capture waits in the writer's queue
    reset: bool = False  # a write failed: write everything again next time
    data: Any = None  # the run's data version whose scenario was written (set_data edits it)


@dataclass
class Capture:
    """One session as the loop copied it; packed and written in the writer thread."""

    sid: str
    scenario: tuple[sc.Scenario, dict[str, Any], dict[str, Any]] | None  # with its data and data versions, when new
    trainer: Snapshot  # at the last completed step
    history: dict[str, Any]
    new: list[Snapshot]  # checkpoints the store does not have yet
    curve: list[list[float | None]]
    selected: int
    room: tuple[str | None, bytes | None]


def capture(s: "Session", rec: Record) -> Capture:
    """Copy what must be saved of `s` (call between commands: its lock free)."""
    c = s.cursor
    scenario = None
    if rec.reset or rec.cursor is not c:
        rec.cursor, rec.serials, rec.reset, rec.data = c, {}, False, None
    if rec.data is not c.data:  # a new run, or its data edited
        rec.data = c.data
        scenario = (c.scenario, data_arrays(c), dataedit.saved(c))
    h = c.history
    new = [h.snaps[k] for k in h.steps if rec.serials.get(k) != h.serials[k]]
    rec.serials = dict(h.serials)  # not the checkpoints: those the history drops are freed at once
    trainer = c.pre if c.pre is not None else c.snapshot()  # never mid-step
    history = {"every": h.every, "last": h.last, "steps": list(h.steps)}
    room = (s.room.code, s.room.token_hash)
    return Capture(s.id, scenario, trainer, history, new, list(c.curve), c.selected, room)


def data_arrays(c: Cursor) -> dict[str, Any]:
    """The given data of a run as the trainer's arrays (no copy: they never change)."""
    d, t = c.scenario.data, c.trainer
    if not isinstance(d, sc.GivenData):
        return {}
    out: dict[str, Any] = {"train": {"x": t.x, "y": t.y}, "test": None}
    if d.test is not None:
        out["test"] = {"x": t.x_test, "y": t.y_test} if t.x_test is not None else {"x": [], "y": []}
    return out


# --- packing (writer thread) ---------------------------------------------------------------------
def config_out(snap: Snapshot) -> Snapshot:
    cfg = snap["config"]
    data = {"data": snap["data"].version} if "data" in snap else {}  # the version's number
    return {
        **snap,
        **data,
        "config": {
            "optimizer": cfg["optimizer"].model_dump(mode="json"),
            "regularization": cfg["regularization"].model_dump(mode="json"),
            "batch_size": cfg["batch_size"],
        },
    }


def config_in(snap: Snapshot) -> Snapshot:
    cfg = snap["config"]
    snap["config"] = {
        "optimizer": _optimizer.validate_python(cfg["optimizer"]),
        "regularization": sc.Regularizer.model_validate(cfg["regularization"]),
        "batch_size": int(cfg["batch_size"]),
    }
    return snap


def pack_scenario(s: sc.Scenario, data: dict[str, Any], versions: dict[str, Any] | None = None) -> Packed:
    doc = s.model_dump(mode="json", exclude_none=True, exclude={"data"} if data else None)
    return pack({"scenario": doc, "data": data or None, "versions": versions})


def pack_state(cap: Capture) -> Packed:
    curve = np.array([[math.nan if v is None else v for v in r] for r in cap.curve], dtype=np.float64)
    return pack(
        {
            "trainer": config_out(cap.trainer),
            "history": cap.history,
            "curve": curve.reshape(-1, 6),
            "selected": cap.selected,
        }
    )


# --- rebuilding (the loop) -----------------------------------------------------------------------
def rebuild(row: Row, options: Options) -> Cursor:
    """A Cursor at the saved state: built from the scenario, then the trainer, history and curve
    put back. Raises (ValueError, KeyError, ScenarioError) when the row is damaged."""
    stored = unpack(*row.scenario)
    doc = stored["scenario"]
    if stored["data"] is not None:
        doc["data"] = {
            k: None if part is None else {"x": _rows(part["x"]), "y": _rows(part["y"])}
            for k, part in stored["data"].items()
        }
    c = Cursor(sc.parse(doc), options)
    versions = dataedit.restored(c, stored.get("versions"), doc)
    state = unpack(*row.state)
    kept = set(state["history"]["steps"])
    snaps = {k: config_in(unpack(m, a)) for k, m, a in row.checkpoints if k in kept}
    for k, snap in list(snaps.items()):  # each with its data version; one that is gone, dropped
        d = versions.get(snap.get("data"))
        if d is None:
            del snaps[k]
        else:
            snap["data"] = d
    h = c.history
    h.every = int(state["history"]["every"])
    h.replace(snaps)
    h.last = int(state["history"]["last"])
    trainer = config_in(state["trainer"])
    trainer["data"] = c.data
    c.restore(trainer)
    if not h.steps:
        h.save(c.snapshot())
    c.curve = [
        [int(r[0]), int(r[1]), *(None if math.isnan(v) else float(v) for v in r[2:])] for r in state["curve"].tolist()
    ]
    c.selected = int(state["selected"])
    return c


def _rows(a: Any) -> Any:
    return a.tolist() if isinstance(a, np.ndarray) else a


# --- the writer thread ---------------------------------------------------------------------------
class Saver:
    """The store behind a writer thread, and what the loop knows of each session's saves."""

    def __init__(self, path: str, interval: float = 1.0, retention_days: float = 30.0) -> None:
        self.interval, self.retention_days = interval, retention_days
        self.store = Store(path)  # a damaged file is moved aside here, at startup
        self.records: dict[str, Record] = {}
        self.full = False  # the disk is full: /healthz says so
        self._retry_at = 0.0
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]] | None]
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="deltaflow-store", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                self.store.close()
                return
            fn, args, fut = job
            try:
                fut.set_result(fn(*args))
            except Exception as e:
                fut.set_exception(e)

    def submit(self, fn: Callable[..., Any], *args: Any) -> "Future[Any]":
        fut: Future[Any] = Future()
        self._queue.put((fn, args, fut))
        return fut

    # --- saving ------------------------------------------------------------------------------
    def save(self, s: "Session") -> bool:
        """Capture `s` now and queue its write; False (nothing done) while a command runs on it."""
        if s.lock.locked():
            return False
        rec = self.records.setdefault(s.id, Record())
        cap = capture(s, rec)
        s.dirty = False
        rec.saved_at, rec.inflight = time.monotonic(), True
        self.submit(self._write, cap, rec)
        return True

    def _write(self, cap: Capture, rec: Record) -> None:
        try:
            if self.full and time.monotonic() < self._retry_at:
                rec.reset = True  # dropped: the next save writes everything
                return
            scenario = None if cap.scenario is None else pack_scenario(*cap.scenario)
            state = pack_state(cap)
            cps = [(snap["step"], pack(config_out(snap))) for snap in cap.new]
            if not self.store.save(cap.sid, scenario, state, cap.history["steps"], cps, cap.room):
                rec.reset = True  # the row went (pruned): the next save writes it whole
            elif self.full:
                self.full = False
                log.warning("the database %s has room again: sessions are saved again", self.store.path)
        except Exception as e:
            rec.reset = True
            if is_full(e):
                if not self.full:
                    log.warning(
                        "the disk of %s is full: sessions are not being saved (training goes on); "
                        "trying again every %g s",
                        self.store.path,
                        FULL_RETRY,
                    )
                self.full, self._retry_at = True, time.monotonic() + FULL_RETRY
            else:
                log.exception("could not save a session")
        finally:
            rec.inflight = False

    def sweep(self, sessions: list["Session"]) -> int:
        """Save the changed sessions whose last save is `interval` old, oldest first, for at most
        SWEEP_SECONDS of copying; the rest wait for the next tick. How many were saved."""
        now = time.monotonic()
        due = []
        for s in sessions:
            rec = self.records.get(s.id)
            if s.dirty and (rec is None or (not rec.inflight and now - rec.saved_at >= self.interval)):
                due.append((rec.saved_at if rec else -math.inf, s))
        due.sort(key=lambda p: p[0])
        start, n = time.perf_counter(), 0
        for _, s in due:
            n += self.save(s)
            if time.perf_counter() - start > SWEEP_SECONDS:
                break
        return n

    async def run(self, registry: "Registry") -> None:
        while True:
            await asyncio.sleep(TICK)
            self.sweep([s for s in registry.sessions.values() if registry.persistent(s)])

    def restored(self, s: "Session") -> None:
        """`s` was just read from the store: it has all of it."""
        self.records[s.id] = Record(s.cursor, dict(s.history.serials), time.monotonic(), data=s.cursor.data)
        s.dirty = False

    def forget(self, sid: str) -> None:
        """`sid` left memory: its record goes (the store keeps the session)."""
        self.records.pop(sid, None)

    def delete(self, sid: str) -> None:
        self.records.pop(sid, None)
        self.submit(self.store.delete, sid)

    # --- reading -----------------------------------------------------------------------------
    def read(self, sid: str) -> "Future[Row | None]":
        """The stored session `sid`, read after every write queued before it."""
        if not SESSION_ID.fullmatch(sid):
            done: Future[Row | None] = Future()
            done.set_result(None)
            return done
        return self.submit(self.store.load, sid)

    def load(self, sid: str) -> Row | None:
        """read(), waiting for it (blocks on the writer thread)."""
        row: Row | None = self.read(sid).result()
        return row

    def rooms(self, since: float) -> dict[str, str]:
        found: dict[str, str] = self.submit(self.store.rooms, since).result()
        return found

    # --- pruning -----------------------------------------------------------------------------
    def prune(self) -> "Future[Any]":
        """Delete sessions saved more than retention_days ago."""
        return self.submit(self._prune)

    def _prune(self) -> int:
        n = self.store.prune(time.time() - self.retention_days * DAY)
        if n:
            log.info("pruned %d session(s) not saved for %g days", n, self.retention_days)
        return n

    async def prune_daily(self) -> None:
        while True:
            await asyncio.sleep(DAY)
            self.prune()

    def reasons(self) -> list[str]:
        """What /healthz should say about saving."""
        if self.full:
            return [f"disk full: sessions are not being saved to {self.store.path}"]
        return []

    def close(self) -> None:
        """Write everything queued, then stop the writer thread."""
        self._queue.put(None)
        self._thread.join()
