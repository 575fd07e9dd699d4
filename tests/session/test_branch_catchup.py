"""Run b catching up with run a: the replay of a takes up a's edits, and a history that no
longer reaches b's step still brings b level with a."""

import asyncio
from typing import Any

import numpy as np
import pytest

from app import scenario as sc
from app.session.branch import Branch
from app.session.cursor import Cursor, Options


def doc() -> dict:
    return {**sc.preset("circle"), "shuffle": True, "seed": 2}


def branch_of(a: Cursor, lr: float) -> Branch:
    b = a.fork()
    b.trainer.optimizer.learning_rate = lr
    optimizer = b.scenario.optimizer.model_copy(update={"learning_rate": lr})
    b.scenario = b.scenario.model_copy(update={"optimizer": optimizer})
    b.edited()
    br = Branch(b, a.trainer.step_count, {"learning_rate": lr}, 1e-3)
    br.add_row(a.trainer.step_count, a.trainer.net.get(), a.trainer.evaluate(a.trainer.x, a.trainer.y)[0])
    return br


def loss(c: Cursor) -> float:
    return c.trainer.evaluate(c.trainer.x, c.trainer.y)[0]  # type: ignore[return-value]


def test_the_replay_of_a_takes_up_its_edits() -> None:
    a = Cursor(sc.parse(doc()), Options())
    for _ in range(2):
        a.fast_step()
    br = branch_of(a, 0.2)
    losses = {}
    for k in range(3, 9):
        a.fast_step()
        if k == 5:  # an edit of a at step 5: the replay must pass through it
            a.trainer.net.w[0][1, 0] = 3.0
            a.edited()
        losses[k] = loss(a)
    br.catch_up(a, 8)
    rows = {int(r[0]): r for r in br.rows}  # type: ignore[arg-type]
    assert sorted(rows) == [2, 3, 4, 5, 6, 7, 8]
    for k in range(3, 9):
        assert rows[k][1] == losses[k], k
    # b follows its own course: lr 0.2 from step 2, untouched by a's edit
    t = Cursor(sc.parse(doc()), Options()).trainer
    for _ in range(2):
        t.step()
    t.optimizer.learning_rate = 0.2
    for _ in range(6):
        t.step()
    for p, q in zip(br.b.trainer.net.params, t.net.params):
        np.testing.assert_array_equal(p, q)
    assert rows[8][2] == t.evaluate(t.x, t.y)[0]


def test_b_catches_up_past_the_reach_of_a_history() -> None:
    a = Cursor(sc.parse(doc()), Options(history_steps=20))
    br = branch_of(a, 0.1)
    for _ in range(200):
        a.fast_step()
    assert a.history.first > 0
    br.catch_up(a, 200)
    assert br.b.trainer.step_count == 200 and [r[0] for r in br.rows] == [0, 200]
    assert br.rows[-1][1] == loss(a) and br.rows[-1][2] == loss(br.b)


def test_an_animation_brings_run_b_along_under_the_sessions_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    # a `pause` (which holds the lock and follows a itself) must not meet b half moved: two
    # follows at once stepped b twice from the same step
    from types import SimpleNamespace

    from app.session import branch, play

    order: list[str] = []

    async def follow(s: Any, force: bool = False) -> None:
        order.append("follow")

    monkeypatch.setattr(branch, "follow", follow)

    async def run() -> None:
        s = SimpleNamespace(lock=asyncio.Lock())
        async with s.lock:  # a command holds it
            task = asyncio.create_task(play.followed(s))  # type: ignore[arg-type]
            await asyncio.sleep(0.01)
            order.append("command done")
        await task

    asyncio.run(run())
    assert order == ["command done", "follow"]
