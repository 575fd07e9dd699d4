"""Sessions on disk: one SQLite file in WAL mode, its schema migrations, and arrays without pickle.

A Store is used from one thread only (the writer thread of app/session/persist.py). Arrays
are kept as raw bytes, one blob per row, beside a JSON skeleton that gives each one's dtype
(plain numbers only: nothing is ever unpickled) and shape, so float64 weights come back
bit-identical. Blobs are written in CHUNK pieces through SQLite's incremental blob I/O, so no
single call holds the GIL for long.
"""

import errno
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

log = logging.getLogger("deltaflow.store")
MEMORY = ":memory:"  # DELTAFLOW_DB for a database that lives only as long as the process

# Schema migrations: version k is reached by running MIGRATIONS[k - 1], in order, in one
# transaction. Never edit a released step; add a new one.
MIGRATIONS: list[list[str]] = [
    [  # 1: sessions and their history checkpoints
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            saved_at REAL NOT NULL,
            scenario TEXT NOT NULL,
            scenario_arrays BLOB NOT NULL,
            state TEXT NOT NULL,
            state_arrays BLOB NOT NULL,
            room_code TEXT,
            token_hash BLOB
        )""",
        "CREATE INDEX sessions_saved_at ON sessions (saved_at)",
        "CREATE INDEX sessions_room_code ON sessions (room_code)",
        """CREATE TABLE checkpoints (
            session TEXT NOT NULL,
            step INTEGER NOT NULL,
            meta TEXT NOT NULL,
            arrays BLOB NOT NULL,
            UNIQUE (session, step)
        )""",
    ],
]


class Unreadable(Exception):
    """The file is not a database this version can read (corrupt, or from a newer version)."""


Packed = tuple[bytes, list[memoryview]]  # a JSON skeleton, and the raw bytes of its arrays in order
CHUNK = 256 * 1024  # bytes copied into the file per call: the writer thread lets the loop in between
NUMERIC = "biufc"  # dtype kinds that are plain bytes: never Python objects


def pack(obj: Any) -> Packed:
    """A JSON skeleton of `obj`, each array in it replaced by {"$array": i}, and the bytes of
    those arrays (views, not copies: the caller must not change them until written).
    Dicts need str keys; tuples come back as lists; arrays of objects are refused."""
    specs: list[list[Any]] = []
    parts: list[memoryview] = []

    def walk(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in NUMERIC:
                raise ValueError(f"an array of {x.dtype} cannot be saved without pickle")
            a = np.ascontiguousarray(x)
            specs.append([a.dtype.str, list(a.shape)])
            parts.append(memoryview(a.reshape(-1)).cast("B") if a.size else memoryview(b""))  # type: ignore[arg-type]
            return {"$array": len(specs) - 1}
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [walk(v) for v in x]
        if isinstance(x, np.generic):
            return x.item()
        return x

    value = walk(obj)
    return orjson.dumps({"arrays": specs, "value": value}), parts


def unpack(skeleton: bytes | str, blob: bytes) -> Any:
    """The object `pack` was given, its arrays copied out of `blob` (ValueError, KeyError or
    TypeError if either part is damaged)."""
    doc = orjson.loads(skeleton)
    arrays, offset = [], 0
    for dtype, shape in doc["arrays"]:
        dt = np.dtype(dtype)
        if dt.kind not in NUMERIC:
            raise ValueError(f"a stored array of {dt} is not plain numbers")
        n = int(np.prod(shape, dtype=np.int64))
        arrays.append(np.frombuffer(blob, dt, n, offset).reshape(shape).copy())
        offset += n * dt.itemsize
    if offset != len(blob):
        raise ValueError(f"the arrays take {offset} bytes but {len(blob)} are stored")

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            if len(x) == 1 and "$array" in x:
                return arrays[x["$array"]]
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk(doc["value"])


def size(parts: list[memoryview]) -> int:
    return sum(p.nbytes for p in parts)


def is_full(e: BaseException) -> bool:
    """Whether `e` says the disk (or the database's page limit) is full."""
    if isinstance(e, sqlite3.Error):
        return getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "database or disk is full" in str(e)
    return isinstance(e, OSError) and e.errno == errno.ENOSPC


def damaged(e: BaseException) -> bool:
    """Whether `e` says the file is no database this version can read (not: locked, no access)."""
    code = getattr(e, "sqlite_errorcode", None)
    return isinstance(e, Unreadable) or code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)


@dataclass
class Row:
    """One stored session, still packed: the caller unpacks it (a damaged row raises there)."""

    id: str
    saved_at: float
    scenario: tuple[bytes, bytes]
    state: tuple[bytes, bytes]
    checkpoints: list[tuple[int, bytes, bytes]]
    room_code: str | None
    token_hash: bytes | None


class Store:
    """The database at `path` (MEMORY for none). A corrupt or unreadable file is moved aside
    (renamed PATH.corrupt-YYYYmmddTHHMMSS, never deleted) and a fresh one started in its place."""

    def __init__(self, path: str, migrations: list[list[str]] | None = None) -> None:
        self.migrations = MIGRATIONS if migrations is None else migrations
        self.path = MEMORY if path in ("", MEMORY) else str(Path(path).expanduser())
        self.moved_aside: str | None = None
        try:
            try:
                self.db = self._open()
            except (sqlite3.DatabaseError, Unreadable) as e:
                if not damaged(e):
                    raise
                self.moved_aside = self._move_aside()
                log.warning("the database %s could not be read (%s); moved it to %s", self.path, e, self.moved_aside)
                self.db = self._open()
        except (sqlite3.Error, OSError) as e:  # cannot open or move it (permissions, locked): keep going
            log.warning("the database %s cannot be used (%s); sessions are kept in memory only", self.path, e)
            self.path = MEMORY
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # in WAL: a crash of the process loses nothing
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT version FROM schema_version").fetchone()
        version = 0 if row is None else int(row[0])
        if version > len(self.migrations):
            raise Unreadable(f"schema version {version} is newer than this server's {len(self.migrations)}")
        for v in range(version, len(self.migrations)):
            db.execute("BEGIN IMMEDIATE")
            try:
                for sql in self.migrations[v]:
                    db.execute(sql)
                db.execute("DELETE FROM schema_version")
                db.execute("INSERT INTO schema_version VALUES (?)", (v + 1,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            if self.path != MEMORY:
                log.info("database %s: schema version %d", self.path, v + 1)

    def _move_aside(self) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = f"{self.path}.corrupt-{stamp}"
        n = 1
        while os.path.exists(target):
            n += 1
            target = f"{self.path}.corrupt-{stamp}-{n}"
        os.replace(self.path, target)
        for suffix in ("-wal", "-shm"):  # the journal belongs with the file it journals
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, target + suffix)
        return target

    def version(self) -> int:
        return int(self.db.execute("SELECT version FROM schema_version").fetchone()[0])

    # --- writing -----------------------------------------------------------------------------
    def save(
        self,
        sid: str,
        scenario: Packed | None,
        state: Packed,
        keep: list[int],
        checkpoints: list[tuple[int, Packed]],
        room: tuple[str | None, bytes | None],
    ) -> bool:
        """Write one session in one transaction: its state, the checkpoints not yet written,
        and (when `scenario` is given) its scenario; checkpoints not in `keep` are dropped.
        False, with nothing written, when the row is missing and `scenario` is None."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            if scenario is None:
                cur = db.execute(
                    "UPDATE sessions SET saved_at=?, state=?, state_arrays=zeroblob(?), room_code=?, token_hash=?"
                    " WHERE id=?",
                    (now, state[0], size(state[1]), *room, sid),
                )
                if cur.rowcount == 0:
                    db.execute("ROLLBACK")
                    return False
                rowid = db.execute("SELECT rowid FROM sessions WHERE id=?", (sid,)).fetchone()[0]
            else:
                cur = db.execute(
                    "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, zeroblob(?), ?, zeroblob(?), ?, ?)",
                    (sid, now, scenario[0], size(scenario[1]), state[0], size(state[1]), *room),
                )
                rowid = cur.lastrowid
                self._fill("sessions", "scenario_arrays", rowid, scenario[1])
            self._fill("sessions", "state_arrays", rowid, state[1])
            kept = ",".join(str(int(k)) for k in keep)
            db.execute(f"DELETE FROM checkpoints WHERE session=? AND step NOT IN ({kept})", (sid,))
            for step, (meta, parts) in checkpoints:
                cur = db.execute(
                    "INSERT OR REPLACE INTO checkpoints (session, step, meta, arrays) VALUES (?, ?, ?, zeroblob(?))",
                    (sid, step, meta, size(parts)),
                )
                self._fill("checkpoints", "arrays", cur.lastrowid, parts)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return True

    def _fill(self, table: str, column: str, rowid: Any, parts: list[memoryview]) -> None:
        """Write `parts` one after another into the zeroblob at `table`.`column`, row `rowid`."""
        if not size(parts):
            return
        with self.db.blobopen(table, column, rowid) as blob:
            for p in parts:
                for i in range(0, p.nbytes, CHUNK):
                    blob.write(p[i : i + CHUNK])

    def delete(self, sid: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM sessions WHERE id=?", (sid,))
            self.db.execute("DELETE FROM checkpoints WHERE session=?", (sid,))

    def close_room(self, sid: str) -> None:
        with self.db:
            self.db.execute("UPDATE sessions SET room_code=NULL, token_hash=NULL WHERE id=?", (sid,))

    def prune(self, before: float) -> int:
        """Delete the sessions last saved before `before` (seconds since the epoch); how many."""
        with self.db:
            old = [r[0] for r in self.db.execute("SELECT id FROM sessions WHERE saved_at < ?", (before,))]
            self.db.executemany("DELETE FROM checkpoints WHERE session=?", [(sid,) for sid in old])
            self.db.executemany("DELETE FROM sessions WHERE id=?", [(sid,) for sid in old])
        return len(old)

    # --- reading -----------------------------------------------------------------------------
    def load(self, sid: str) -> Row | None:
        r = self.db.execute(
            "SELECT id, saved_at, scenario, scenario_arrays, state, state_arrays, room_code, token_hash"
            " FROM sessions WHERE id=?",
            (sid,),
        ).fetchone()
        if r is None:
            return None
        cps = self.db.execute("SELECT step, meta, arrays FROM checkpoints WHERE session=? ORDER BY step", (sid,))
        return Row(r[0], r[1], (r[2], r[3]), (r[4], r[5]), [(int(k), m, a) for k, m, a in cps], r[6], r[7])

    def rooms(self, since: float) -> dict[str, str]:
        """Room code -> session id, of rooms saved since `since` (seconds since the epoch)."""
        q = "SELECT room_code, id FROM sessions WHERE room_code IS NOT NULL AND saved_at >= ? ORDER BY saved_at"
        return {code: sid for code, sid in self.db.execute(q, (since,))}

    def ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM sessions")]

    def close(self) -> None:
        self.db.close()
