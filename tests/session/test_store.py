"""Sessions saved to SQLite come back exactly: weights, optimizer state, history, curve, room."""

import asyncio
import contextlib
import copy
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app import protocol
from app import scenario as sc
from app.session import persist, store
from app.session.directory import Directory
from app.session.outbox import Outbox
from app.session.persist import Saver
from app.session.registry import Registry
from app.session.session import Options, Session
from app.session.store import MIGRATIONS, Store, pack, unpack

OPTIMIZERS = [
    {"type": "sgd", "learning_rate": 0.1},
    {"type": "momentum", "learning_rate": 0.05, "momentum": 0.8},
    {"type": "adam", "learning_rate": 0.01},
    {"type": "lbfgs", "learning_rate": 1.0, "memory": 4},
]


def registry(path: str, **options: Any) -> Registry:
    rooms = Directory(max_rooms=5, idle_seconds=3600, max_viewers=10)
    return Registry(Options(**options), "circle", 600, 10, rooms, Saver(path))


def run(s: Session, *texts: str) -> None:
    async def go() -> None:
        for text in texts:
            await s.handle(protocol.parse_command(text))

    asyncio.run(go())


def same(a: Any, b: Any) -> bool:
    """Equal to the bit, however nested: arrays by bytes, dtype and shape."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b) and type(a) is type(b)


def used(reg: Registry, doc: dict[str, Any] | None = None) -> Session:
    s = reg.create(doc)
    assert s is not None
    reg.used(s)
    return s


def saved(reg: Registry, s: Session) -> None:
    """Save `s` and wait until it is written."""
    assert reg.saver is not None
    assert reg.saver.save(s)
    reg.saver.submit(lambda: None).result()


def reopen(reg: Registry, path: str, **options: Any) -> Registry:
    reg.close()
    return registry(path, **options)


def roundtrip(x: Any) -> Any:
    skeleton, parts = pack(x)
    return unpack(skeleton, b"".join(parts))


@contextlib.contextmanager
def checkpoints_written() -> Iterator[list[int]]:
    """The steps of the checkpoints packed for the store meanwhile, in order."""
    written: list[int] = []
    real = persist.pack

    def counting(obj: Any) -> store.Packed:
        if isinstance(obj, dict) and "params" in obj and "step" in obj:
            written.append(obj["step"])
        return real(obj)

    persist.pack = counting  # type: ignore[assignment]
    try:
        yield written
    finally:
        persist.pack = real  # type: ignore[assignment]


def test_pack_round_trips_nested_arrays_bit_for_bit() -> None:
    x = {
        "a": [np.array([0.1, -0.0, 1e-310, np.pi]), None, 3],
        "b": {"c": np.arange(6.0).reshape(2, 3), "t": np.arange(8.0).reshape(2, 4).T},  # not contiguous
        "e": np.zeros((0, 3)),
        "i": np.arange(5, dtype=np.int32),
        "n": 7,
    }
    back = roundtrip(x)
    assert same(back, x) and back["b"]["t"].shape == (4, 2)
    assert np.signbit(back["a"][0][1])  # -0.0 stays negative
    back["a"][0][0] = 5.0  # a copy of its own, writable


def test_a_blob_of_the_wrong_size_is_refused() -> None:
    skeleton, parts = pack({"w": np.ones(3)})
    with pytest.raises(ValueError):
        unpack(skeleton, b"".join(parts)[:-8])
    with pytest.raises(ValueError):
        unpack(skeleton, b"".join(parts) + b"\0" * 8)


def test_pack_never_pickles() -> None:
    with pytest.raises(ValueError, match="pickle"):
        pack({"o": np.array([{"a": 1}], dtype=object)})


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=[o["type"] for o in OPTIMIZERS])
def test_a_session_comes_back_bit_identical_with_each_optimizer(tmp_path: Path, opt: dict[str, Any]) -> None:
    path = str(tmp_path / "d.db")
    reg = registry(path)
    doc = {**sc.preset("circle"), "optimizer": opt, "shuffle": True}
    if opt["type"] == "lbfgs":
        doc["batch_size"] = 250  # the full batch
    s = used(reg, doc)
    run(s, '{"type": "step", "count": 37}', '{"type": "select", "example": 2}', '{"type": "epoch"}')
    run(s, '{"type": "set_bias", "layer": 1, "unit": 0, "value": 0.25}', '{"type": "step", "count": 5}')
    saved(reg, s)
    before = s.trainer.snapshot()
    curve, steps, selected = list(s.cursor.curve), list(s.history.steps), s.cursor.selected
    reg2 = reopen(reg, path)
    r = reg2.get(s.id)
    assert r is not None and r is not s
    assert same(r.trainer.snapshot(), before)
    assert r.history.steps == steps and r.history.last == s.history.last
    assert all(same(r.history.snaps[k], s.history.snaps[k]) for k in steps)
    assert r.cursor.curve == curve and r.cursor.selected == selected == 2
    assert r.scenario == s.scenario
    assert protocol.encode(r.state()["scenario"]) == protocol.encode(s.state()["scenario"])
    # the optimizer state came back too: the next steps are the same to the bit
    run(s, '{"type": "step", "count": 9}')
    run(r, '{"type": "step", "count": 9}')
    assert same(r.trainer.snapshot(), s.trainer.snapshot())
    reg2.close()


def test_seek_works_over_the_checkpoints_kept(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    reg = registry(path, history_steps=60)
    s = used(reg, {**sc.preset("spiral"), "optimizer": {"type": "adam"}})
    weights = {}
    for k in range(1, 90):
        run(s, '{"type": "step"}')
        weights[k] = s.trainer.net.get()
        if k % 30 == 0:
            saved(reg, s)  # saved in pieces: only new checkpoints each time
    saved(reg, s)
    first = s.history.first
    assert first > 0
    r = reopen(reg, path, history_steps=60).get(s.id)
    assert r is not None and (r.history.first, r.history.last) == (first, 89)
    for k in (first, first + 7, 61, 88):
        run(r, f'{{"type": "seek", "step": {k}}}')
        assert same(r.trainer.net.get(), weights[k]), k
    with pytest.raises(protocol.ProtocolError, match="outside the history"):
        run(r, f'{{"type": "seek", "step": {first - 1}}}')


def test_only_new_checkpoints_are_written(tmp_path: Path) -> None:
    reg = registry(str(tmp_path / "d.db"))
    s = used(reg, sc.preset("worked-example"))
    assert reg.saver is not None
    with checkpoints_written() as written:
        run(s, '{"type": "step", "count": 25}')
        saved(reg, s)
        first = list(written)
        run(s, '{"type": "step", "count": 10}')
        saved(reg, s)
    every = s.history.every
    assert first == [*range(0, 26, every)]  # every checkpoint
    assert written[len(first) :] == [*range(30, 36, every)]  # then the new ones only
    reg.close()


def test_the_store_holds_no_checkpoint_the_history_dropped(tmp_path: Path) -> None:
    """What was written is known by each checkpoint's serial, not by holding the checkpoint: one
    the history drops (its budget, or an edit at the same step) is freed at once, and one that
    replaces another at the same step is written again."""
    import gc
    import weakref

    reg = registry(str(tmp_path / "d.db"))
    s = used(reg, sc.preset("worked-example"))
    run(s, '{"type": "step", "count": 3}')
    saved(reg, s)
    h = s.history
    first = weakref.ref(h.snaps[h.steps[0]]["params"][0])
    edited = h.snaps[h.steps[-1]]
    run(s, '{"type": "set_bias", "layer": 1, "unit": 0, "value": 0.25}')  # a checkpoint at the same step
    assert h.snaps[h.steps[-1]] is not edited
    h.max_bytes = 0  # over budget: every checkpoint but the newest goes at the next one kept
    run(s, '{"type": "step"}', '{"type": "set_bias", "layer": 1, "unit": 0, "value": 0.5}')
    del edited
    gc.collect()
    assert first() is None  # the saver kept no reference to it
    with checkpoints_written() as written:
        saved(reg, s)
    assert written == [h.steps[-1]] and len(h.steps) == 1
    reg.close()


def test_a_step_in_progress_is_saved_as_the_step_before_it(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    reg = registry(path)
    s = used(reg, sc.preset("worked-example"))
    run(s, '{"type": "step", "count": 3}')
    at3 = s.trainer.snapshot()
    run(s, '{"type": "next"}', '{"type": "next"}')  # batch, forward: the trainer is already at step 4
    assert s.cursor.pending is not None and s.trainer.step_count == 4
    saved(reg, s)
    r = reopen(reg, path).get(s.id)
    assert r is not None and r.cursor.pending is None
    assert same(r.trainer.snapshot(), at3)


def test_given_data_with_a_test_set_comes_back(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    reg = registry(path)
    rng = np.random.default_rng(3)
    x, xt = rng.normal(size=(30, 2)), rng.normal(size=(7, 2))
    doc = {
        **sc.preset("circle"),
        "data": {
            "train": {"x": x.tolist(), "y": (x[:, :1] > 0).astype(float).tolist()},
            "test": {"x": xt.tolist(), "y": (xt[:, :1] > 0).astype(float).tolist()},
        },
    }
    s = used(reg, doc)
    run(s, '{"type": "step", "count": 4}')
    saved(reg, s)
    r = reopen(reg, path).get(s.id)
    assert r is not None and r.scenario == s.scenario
    assert same(r.trainer.x, s.trainer.x) and same(r.trainer.x_test, s.trainer.x_test)


def test_an_evicted_session_comes_back_on_reconnect() -> None:
    rooms = Directory(max_rooms=5, idle_seconds=3600, max_viewers=10)
    reg = Registry(Options(), "worked-example", 600, 1, rooms, Saver(":memory:"))
    a = used(reg)
    run(a, '{"type": "step", "count": 3}')
    weights = a.trainer.net.get()
    b = used(reg)  # the only slot: `a` is saved and evicted
    assert a.id not in reg.sessions and b is not None
    b.attach(Outbox())  # now `b` is followed: it stays
    assert reg.get(a.id) is None  # no slot for it while `b` is followed
    b.detach(Outbox())
    b.room.members.clear()
    back = reg.get(a.id)
    assert back is not None and back.trainer.step_count == 3 and same(back.trainer.net.get(), weights)
    reg.close()


def test_the_last_connection_leaving_saves_the_session(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    reg = registry(path)
    s = used(reg)
    box = Outbox()
    s.attach(box)
    run(s, '{"type": "step", "count": 2}')
    s.detach(box)
    reg.release(s)
    assert reg.saver is not None
    reg.saver.submit(lambda: None).result()
    assert Store(path).load(s.id) is not None


def test_a_fresh_session_is_never_saved() -> None:
    reg = Registry(Options(), "circle", 600, 10, None, Saver(":memory:"))
    s = reg.create()
    assert s is not None and reg.saver is not None
    assert reg.saver.sweep([x for x in reg.sessions.values() if reg.persistent(x)]) == 0
    reg.release(s)
    assert reg.saver.load(s.id) is None


def test_a_room_comes_back_by_its_code_with_its_presenter_token(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    reg = registry(path)
    s = used(reg)
    code, token = reg.rooms.create(s)
    run(s, '{"type": "step", "count": 2}')
    saved(reg, s)
    reg2 = reopen(reg, path)
    assert code in reg2.rooms.stored and s.id not in reg2.sessions
    r = reg2.rooms.get(code.lower())
    assert r is not None and r.id == s.id and r.room.code == code and r.room.check(token)
    assert r.trainer.step_count == 2 and reg2.rooms.get(code) is r and not reg2.rooms.stored
    reg2.close()


def test_a_room_that_closed_is_saved_without_it(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    rooms = Directory(max_rooms=5, idle_seconds=0.0001, max_viewers=10)
    reg = Registry(Options(), "circle", 600, 10, rooms, Saver(path))
    s = used(reg)
    reg.rooms.create(s)
    time.sleep(0.01)
    reg.expire()  # no presenter for its idle time: the room closes
    assert s.id not in reg.sessions
    reg2 = reopen(reg, path)
    assert not reg2.rooms.stored
    r = reg2.get(s.id)
    assert r is not None and r.room.code is None
    reg2.close()


def test_a_corrupt_file_is_moved_aside_and_a_fresh_one_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "d.db"
    path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, "deltaflow.store"):
        st = Store(str(path))
    aside = list(tmp_path.glob("d.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"this is not a database" * 100
    assert st.moved_aside == str(aside[0]) and str(aside[0]) in caplog.text
    assert st.version() == len(MIGRATIONS) and st.ids() == []


def test_a_database_of_a_newer_version_is_moved_aside(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    Store(path, MIGRATIONS + [["CREATE TABLE later (x)"]]).close()
    st = Store(path)
    assert st.moved_aside is not None and st.version() == len(MIGRATIONS)


def test_an_older_schema_is_migrated_keeping_its_sessions(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    reg = registry(path)
    s = used(reg)
    run(s, '{"type": "step", "count": 3}')
    saved(reg, s)
    reg.close()
    newer = MIGRATIONS + [["ALTER TABLE sessions ADD COLUMN note TEXT", "UPDATE sessions SET note = 'v2'"]]
    st = Store(path, newer)
    assert st.version() == len(MIGRATIONS) + 1 and st.moved_aside is None
    assert st.db.execute("SELECT note FROM sessions").fetchall() == [("v2",)]
    row = st.load(s.id)
    assert row is not None and persist.rebuild(row, Options()).trainer.step_count == 3


def test_migrating_from_nothing_creates_every_table(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE unrelated (x)")  # an existing file at version 0
    db.commit()
    db.close()
    st = Store(path)
    tables = {r[0] for r in st.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"schema_version", "sessions", "checkpoints", "unrelated"} <= tables and st.version() == 1


def test_old_sessions_are_pruned(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    reg = registry(path)
    old, new = used(reg), used(reg)
    run(old, '{"type": "step"}')
    saved(reg, old)
    saved(reg, new)
    assert reg.saver is not None
    reg.saver.submit(
        lambda: reg.saver.store.db.execute(  # type: ignore[union-attr]
            "UPDATE sessions SET saved_at = saved_at - 31 * 86400 WHERE id = ?", (old.id,)
        )
    ).result()
    assert reg.saver.prune().result() == 1
    st = reg.saver.submit(reg.saver.store.ids).result()
    assert st == [new.id]
    counts = reg.saver.submit(lambda: reg.saver.store.db.execute("SELECT count(*) FROM checkpoints").fetchone())
    assert counts.result()[0] == 1  # the pruned session's checkpoints went with it
    reg.close()


def test_a_full_disk_is_reported_once_and_training_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    saver = Saver(":memory:")
    reg = Registry(Options(), "circle", 600, 10, None, saver)
    s = used(reg)
    pages = saver.submit(lambda: saver.store.db.execute("PRAGMA page_count").fetchone()[0]).result()
    saver.submit(lambda: saver.store.db.execute(f"PRAGMA max_page_count = {pages + 1}")).result()
    with caplog.at_level(logging.WARNING, "deltaflow.store"):
        for _ in range(5):
            run(s, '{"type": "step", "count": 20}')
            saved(reg, s)
    assert saver.full and saver.reasons()[0].startswith("disk full:")
    assert len([r for r in caplog.records if "full" in r.getMessage()]) == 1
    assert s.trainer.step_count == 100  # training went on
    saver.submit(lambda: saver.store.db.execute("PRAGMA max_page_count = 1000000")).result()
    saver._retry_at = 0.0  # as if FULL_RETRY had passed
    saved(reg, s)
    assert not saver.full and saver.load(s.id) is not None
    reg.close()


def test_is_full_knows_enospc_and_sqlite_full() -> None:
    assert store.is_full(OSError(28, "No space left on device"))
    assert store.is_full(sqlite3.OperationalError("database or disk is full"))
    assert not store.is_full(sqlite3.OperationalError("database is locked"))


def test_an_unknown_or_malformed_id_costs_no_lookup() -> None:
    reg = Registry(Options(), "circle", 600, 10, None, Saver(":memory:"))
    assert reg.get("nope") is None and reg.get("x" * 22) is None and reg.get("'; DROP TABLE sessions; --") is None
    reg.close()


def test_a_damaged_row_loses_that_session_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = str(tmp_path / "d.db")
    reg = registry(path)
    a, b = used(reg), used(reg)
    saved(reg, a)
    saved(reg, b)
    reg.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE sessions SET state_arrays = x'00' WHERE id = ?", (a.id,))
    db.commit()
    db.close()
    reg2 = registry(path)
    with caplog.at_level(logging.WARNING):
        assert reg2.get(a.id) is None
    assert "could not be read back" in caplog.text
    assert reg2.get(b.id) is not None
    reg2.close()


def test_rebuilt_configuration_equals_the_live_one() -> None:
    s = Session("t", copy.deepcopy({**sc.preset("circle"), "optimizer": OPTIMIZERS[2]}), Options(), None)
    snap = s.cursor.snapshot()
    back = persist.config_in(roundtrip(persist.config_out(snap)))
    assert back["config"] == s.cursor.config()


def test_find_brings_a_session_back_off_the_loop_once(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    reg = registry(path)
    s = used(reg)
    run(s, '{"type": "step", "count": 4}')
    saved(reg, s)
    reg2 = reopen(reg, path)

    async def twice() -> list[Session | None]:
        return list(await asyncio.gather(reg2.find(s.id), reg2.find(s.id)))

    a, b = asyncio.run(twice())
    assert a is not None and a is b and a.trainer.step_count == 4 and len(reg2.sessions) == 1
    assert asyncio.run(reg2.find("unknown-but-well-formed-id")) is None
    reg2.close()
