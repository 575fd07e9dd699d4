"""Large traced steps in the warm replica process (app/session/replica.py, `python -m app.worker
serve`): the same bits as a step in the server's own process, the data kept between steps,
divergence, a dead or cancelled replica, and `next` revealing a replica's step."""

import asyncio
import os
import signal
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from app import scenario as sc
from app.codec import encode_in_pieces
from app.session import offload, replica
from app.session.breakpoints import Diverged
from app.session.cursor import Cursor, Options
from app.session.outbox import Sent
from tests.nn import diverging


def scenario(lr: float = 0.05) -> sc.Scenario:
    """Adam (state beyond the weights), shuffled, and an epoch every 4 steps."""
    return sc.parse(
        {
            "name": "replicated",
            "layers": [2, 8, 8, 1],
            "activations": ["tanh", "tanh", "sigmoid"],
            "optimizer": {"type": "adam", "learning_rate": lr},
            "data": {"generator": "circle", "samples": 200, "train_fraction": 0.8},
            "batch_size": 50,
        }
    )


@pytest.fixture(autouse=True)
def every_step_remote(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(replica, "REMOTE_FLOPS", 0)  # this small net's steps go to the replica
    yield


def state(c: Cursor) -> list[Any]:
    t = c.trainer
    opt = t.optimizer.state()
    return [t.step_count, t.epochs_done, t.offset, *t.net.params, *t.last_grad_w, *t.last_changes, repr(opt)]


def same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x.view(np.uint64), y.view(np.uint64)) if isinstance(x, np.ndarray) else x == y
        for x, y in zip(a, b)
    )


def test_steps_in_the_replica_equal_steps_here_bit_for_bit_with_their_encoded_events() -> None:
    here, there = Cursor(scenario(), Options()), Cursor(scenario(), Options())

    async def run() -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        try:
            out = []
            for _ in range(6):  # across an epoch's end
                out.append((here.traced_step(), await offload.traced_step(there)))
                assert same(state(here), state(there))
            return out
        finally:
            await replica.close()

    steps = asyncio.run(run())
    for local, remote in steps:
        assert [e["type"] for e in local] == [e["type"] for e in remote]
        assert all(isinstance(e, Sent) for e in remote)
        assert [encode_in_pieces(e) for e in local] == [e.message.data for e in remote]
    assert any(e["type"] == "epoch" for _, remote in steps for e in remote)
    assert here.curve == there.curve and here.history.last == there.history.last


def test_the_replica_keeps_the_data_and_is_sent_it_again_when_it_has_lost_it() -> None:
    big = scenario().model_copy(update={"data": sc.GeneratedData(generator="circle", samples=10_000, train_fraction=1)})
    c, twin = Cursor(big, Options()), Cursor(big, Options())
    sent: list[int] = []  # the bytes of kept arrays sent with each request

    class Counting:
        """The child's stdin, counting the bytes of kept arrays in each request's first line."""

        def __init__(self, pipe: Any) -> None:
            self.pipe = pipe

        def write(self, b: Any) -> None:
            if isinstance(b, bytes) and b.endswith(b"\n"):  # a request's first line, "P N" (a pickle ends in ".")
                sent.append(int(b.split()[0]))
            self.pipe.write(b)

        def flush(self) -> None:
            self.pipe.flush()

        def close(self) -> None:
            self.pipe.close()

    def count(r: replica.Replica) -> None:
        r.proc.stdin = Counting(r.proc.stdin)  # type: ignore[union-attr]

    async def run() -> set[int]:
        try:
            await offload.traced_step(c)
            r = replica._pool()[0]
            kept = set(r.kept)
            count(r)
            await offload.traced_step(c)
            await r.stop()  # type: ignore[misc]
            r.start()  # a new child, that the parent believes holds the data
            r.kept = kept
            count(r)
            await offload.traced_step(c)
            return kept
        finally:
            await replica.close()

    kept = asyncio.run(run())
    assert len(kept) == 2  # x and y, each over SHARED_BYTES
    assert sent[0] < 100  # nothing kept sent again
    assert sent[1] < 100 and sent[2] > 240_000  # the child said "missing": then x and y again
    for _ in range(3):
        twin.traced_step()
    assert same(state(c), state(twin))


def test_a_diverging_step_in_the_replica_changes_nothing_here() -> None:
    c, twin = Cursor(sc.parse(diverging.minimal()), Options()), Cursor(sc.parse(diverging.minimal()), Options())
    for cur in (c, twin):
        for _ in range(diverging.FIRST_BAD - 1):
            cur.fast_step()
    before = state(c)

    async def run() -> Diverged:
        try:
            with pytest.raises(Diverged) as there:
                await offload.traced_step(c)
            return there.value
        finally:
            await replica.close()

    there = asyncio.run(run())
    with pytest.raises(Diverged) as here:
        twin.traced_step()
    assert there.reason == here.value.reason and there.reason["step"] == diverging.FIRST_BAD
    assert same(state(c), before) and c.pre is None and c.pending is None


def test_a_replica_killed_during_a_step_leaves_it_to_a_thread_and_the_next_starts_another() -> None:
    c, twin = Cursor(scenario(), Options()), Cursor(scenario(), Options())

    async def run() -> tuple[bool, bool]:
        try:
            await offload.traced_step(c)
            r = replica._pool()[0]
            assert r.proc is not None
            os.kill(r.proc.pid, signal.SIGSTOP)  # it takes the request and never answers
            task = asyncio.create_task(offload.traced_step(c))
            await asyncio.sleep(0.1)
            os.kill(r.proc.pid, signal.SIGKILL)
            pid = r.proc.pid
            await task  # the replica failed: a thread took the step
            in_thread = r.proc is None
            await offload.traced_step(c)  # a new replica
            return in_thread, r.proc is not None and r.proc.pid != pid
        finally:
            await replica.close()

    assert asyncio.run(run()) == (True, True)
    for _ in range(3):
        twin.traced_step()
    assert same(state(c), state(twin))


def test_a_cancelled_step_changes_nothing_and_the_replica_answers_the_next() -> None:
    c, twin = Cursor(scenario(), Options()), Cursor(scenario(), Options())

    async def run() -> None:
        try:
            await offload.traced_step(c)
            task = asyncio.create_task(offload.traced_step(c))
            await asyncio.sleep(0)  # sent, not yet answered
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await offload.traced_step(c)
        finally:
            await replica.close()

    asyncio.run(run())
    twin.traced_step()
    twin.traced_step()
    assert same(state(c), state(twin))


def test_next_reveals_a_replicas_step_phase_by_phase_and_abort_undoes_it() -> None:
    c, twin = Cursor(scenario(), Options()), Cursor(scenario(), Options())
    before = state(c)

    async def run() -> list[dict[str, Any]]:
        try:
            c.pending, c.index = await offload.begin(c), 0
            return list(c.pending)
        finally:
            await replica.close()

    pending = asyncio.run(run())
    local = twin.begin()
    twin.pending, twin.index = local, 0
    assert [(e["type"], e.get("layer")) for e in pending] == [(e["type"], e.get("layer")) for e in local]
    assert same(state(c), state(twin))  # both trainers have applied the step
    assert np.array_equal(c.pending_batch[0], twin.pending_batch[0])  # type: ignore[index]
    assert c.phase() == twin.phase()
    shown = c.next_events()
    assert shown[0].message.data == encode_in_pieces(twin.next_events()[0])  # type: ignore[attr-defined]
    c.abort()
    twin.abort()
    assert same(state(c), state(twin)) and same(state(c)[:9], before[:9])  # the step, the weights


def test_a_replica_that_stops_answering_is_given_up_after_reply_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replica, "REPLY_SECONDS", 0.3)
    c, twin = Cursor(scenario(), Options()), Cursor(scenario(), Options())

    async def run() -> bool:
        try:
            await offload.traced_step(c)
            r = replica._pool()[0]
            assert r.proc is not None
            os.kill(r.proc.pid, signal.SIGSTOP)  # frozen, as by swapping: alive, and silent
            await asyncio.wait_for(offload.traced_step(c), 5)  # a thread takes it after 0.3 s
            return r.proc is None  # the frozen one was killed
        finally:
            await replica.close()

    assert asyncio.run(run())
    twin.traced_step()
    twin.traced_step()
    assert same(state(c), state(twin))


def test_a_replica_killed_while_idle_is_reaped_at_once_and_the_next_step_starts_another() -> None:
    c, twin = Cursor(scenario(), Options()), Cursor(scenario(), Options())

    async def run() -> tuple[str, bool]:
        try:
            await offload.traced_step(c)
            r = replica._pool()[0]
            assert r.proc is not None
            pid = r.proc.pid
            os.kill(pid, signal.SIGKILL)
            for _ in range(100):  # no call to the replica in between
                await asyncio.sleep(0.02)
                if not os.path.exists(f"/proc/{pid}"):
                    break
            gone = "reaped" if not os.path.exists(f"/proc/{pid}") else "zombie"
            await offload.traced_step(c)
            return gone, r.proc is not None and r.proc.pid != pid
        finally:
            await replica.close()

    assert asyncio.run(run()) == ("reaped", True)
    twin.traced_step()
    twin.traced_step()
    assert same(state(c), state(twin))


def given(rows: int = 5000) -> sc.Scenario:
    """scenario() on data given as arrays (a load by upload), shuffled."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (rows, 2))
    y = (x[:, :1] * x[:, 1:] > 0).astype(float)
    doc = scenario().model_dump(exclude={"data"})
    return sc.parse(
        {
            **doc,
            "shuffle": True,
            "data": {"train": {"x": x[:4500], "y": y[:4500]}, "test": {"x": x[4500:], "y": y[4500:]}},
        }
    )


def test_a_run_built_in_the_replica_is_the_one_built_here_and_keeps_the_data_arrays_it_was_given() -> None:
    s = given()

    async def run() -> tuple[Cursor, bool]:
        try:
            c = await offload.built(s, Options())
            return c, replica._pool()[0].proc is not None
        finally:
            await replica.close()

    c, remote = asyncio.run(run())
    here = Cursor(s, Options())
    assert remote
    assert c.trainer.x is s.data.train.x and c.data.x is s.data.train.x  # its token came back, not 64 KB
    assert c.dataset_message() == here.dataset_message()
    assert encode_in_pieces(c.scenario_doc()) == encode_in_pieces(here.scenario_doc())
    assert c.initial_epoch == here.initial_epoch and c.curve == here.curve
    assert encode_in_pieces({"w": c.params_json()}) == encode_in_pieces({"w": here.params_json()})
    assert same(state(c), state(here)) and np.array_equal(c.trainer.next_indices(), here.trainer.next_indices())
    for _ in range(3):
        c.traced_step()
        here.traced_step()
    assert same(state(c), state(here))


def test_a_run_is_built_in_a_thread_when_the_replica_cannot_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    s, asked = given(), []

    async def unavailable(*args: Any) -> Any:
        asked.append(args[0])
        raise replica.Unavailable("no replica here")

    monkeypatch.setattr(replica, "call", unavailable)
    c = asyncio.run(offload.built(s, Options()))
    assert asked == [Cursor]
    assert same(state(c), state(Cursor(s, Options()))) and c.trainer.x is s.data.train.x


def test_a_large_runs_maps_are_drawn_in_the_replica_bit_for_bit() -> None:
    from app.session import maps

    c = Cursor(scenario(), Options())
    for _ in range(3):
        c.traced_step()

    async def run() -> tuple[bytes, bool]:
        try:
            return await offload.maps_message(c), replica._pool()[0].proc is not None
        finally:
            await replica.close()

    packed, remote = asyncio.run(run())
    assert remote and c.points is not None
    assert packed == maps.pack(c.trainer.net, c.points, c.map_seq, c.trainer.step_count)


def test_a_large_runs_train_frame_is_measured_in_the_replica_bit_for_bit() -> None:
    c = Cursor(given(), Options())
    for _ in range(3):
        c.traced_step()
    t = c.trainer
    from app.session import maps

    args = (t, t.x[5:6], maps.grid([-1.0, 1.0, -1.0, 1.0]), 7, True)

    async def run() -> tuple[dict[str, Any], bool]:
        try:
            return await offload.measured_off_loop(args), replica._pool()[0].proc is not None
        finally:
            await replica.close()

    there, remote = asyncio.run(run())
    here = offload.measured(*args)
    assert remote and there["seq"] == here["seq"] == 7 and there["maps"] == here["maps"]
    assert encode_in_pieces({**there, "maps": None}) == encode_in_pieces({**here, "maps": None})
    assert there["row"]["test_loss"] is not None and there["outputs"] is not None


def test_a_session_waiting_for_a_busy_replica_never_holds_its_own_lock() -> None:
    import time
    from types import SimpleNamespace

    from app.session import play

    async def run() -> tuple[bool, list[str], list[float]]:
        try:
            await replica.call(replica.ready, (), [])  # started
            with replica.at_once():  # free: it answers
                assert await replica.call(replica.ready, (), []) is True
            occupied = asyncio.create_task(replica.call(time.sleep, (0.6,), []))
            await asyncio.sleep(0)
            try:
                with replica.at_once():
                    await replica.call(replica.ready, (), [])
                busy = False
            except replica.Busy:
                busy = True
            done: list[str] = []
            sessions = [SimpleNamespace(lock=asyncio.Lock()) for _ in range(3)]

            async def body(name: str) -> str:
                await replica.call(time.sleep, (0.2,), [])  # each in turn, one replica
                done.append(name)
                return name

            tasks = [
                asyncio.create_task(play.in_turn(s, replica.REMOTE_FLOPS, lambda n=str(i): body(n)))  # type: ignore[arg-type]
                for i, s in enumerate(sessions)
            ]
            held = []  # a session seen holding its lock while another's work is in the replica
            while not all(t.done() for t in tasks):
                running = sum(s.lock.locked() for s in sessions)
                held.append(running)
                await asyncio.sleep(0.005)
            await occupied
            return busy, done, held
        finally:
            await replica.close()

    busy, done, held = asyncio.run(run())
    assert max(held) == 1  # one session at a time holds its lock: the one whose work runs
    assert sorted(done) == ["0", "1", "2"]
    assert busy


def test_sessions_waiting_for_the_replica_are_served_first_come_first_served() -> None:
    # two sessions loop on the replica; a third has two tasks, one of which holds its lock
    # across a thread hop before its call (as its maps do): none may be starved
    import time
    from types import SimpleNamespace

    from app.session import play, work

    calls: dict[str, int] = {}

    async def run() -> None:
        try:
            await replica.call(replica.ready, (), [])
            a, b, c = (SimpleNamespace(lock=asyncio.Lock()) for _ in range(3))

            async def body(name: str, hop: bool) -> None:
                if hop:
                    await work.in_thread(time.sleep, 0.005)
                await replica.call(time.sleep, (0.02,), [])
                calls[name] = calls.get(name, 0) + 1

            async def loop(s: Any, name: str, hop: bool = False) -> None:
                while sum(calls.values()) < 40:
                    await play.in_turn(s, replica.REMOTE_FLOPS, lambda: body(name, hop))  # type: ignore[arg-type]

            await asyncio.gather(loop(a, "a"), loop(b, "b"), loop(c, "c-step"), loop(c, "c-maps", hop=True))
        finally:
            await replica.close()

    asyncio.run(run())
    assert set(calls) == {"a", "b", "c-step", "c-maps"} and min(calls.values()) >= 5, calls
