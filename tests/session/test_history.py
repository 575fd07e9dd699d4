"""Checkpoints and replay: any kept step comes back exactly."""

import asyncio
import copy

import numpy as np
import pytest

from app import protocol
from app import scenario as sc
from app.session.history import History
from app.session.outbox import Outbox
from app.session.scheduler import Scheduler
from app.session.session import Options, Session


def snap(step: int) -> dict:
    return {"step": step}


def test_history_keeps_the_last_steps_and_prunes_older() -> None:
    h = History(keep_steps=100, every=10)
    for s in range(0, 301, 10):
        h.save(snap(s))
    assert h.last == 300 and h.first == 200  # checkpoint 200 still covers 200..300
    assert h.base(255)["step"] == 250 and h.base(200)["step"] == 200
    assert h.before(250)["step"] == 240 and h.before(200) is None
    h.truncate(222)
    assert h.last == 222 and h.steps[-1] == 220


def session(name: str, **options: object) -> Session:
    return Session("t", copy.deepcopy(sc.preset(name)), Options(**options), Scheduler())  # type: ignore[arg-type]


def run(s: Session, text: str) -> None:
    asyncio.run(s.handle(protocol.parse_command(text)))


@pytest.mark.parametrize("preset", ["circle", "spiral", "encoder-8-3-8", "three-class"])
def test_seek_replays_exactly_with_every_optimizer(preset: str) -> None:
    s = session(preset, history_steps=60)
    weights = {0: s.trainer.net.get()}
    for k in range(1, 80):
        s.trainer.step()
        s.cursor.complete([])
        weights[k] = s.trainer.net.get()
    assert s.history.first > 0  # older checkpoints were pruned
    for k in (79, s.history.first, s.history.first + 7, 33 if s.history.first <= 33 else 79):
        run(s, f'{{"type": "seek", "step": {k}}}')
        got = s.trainer.net.get()
        assert all(np.array_equal(a, b) for a, b in zip(got, weights[k], strict=True)), k
    with pytest.raises(protocol.ProtocolError, match="outside the history"):
        run(s, '{"type": "seek", "step": 0}')


def test_checkpoint_spacing_follows_the_memory_budget() -> None:
    small = session("circle")
    assert small.history.every == 10
    doc = copy.deepcopy(sc.preset("circle"))
    doc.update(layers=[2, 64, 64, 64, 1], activations=["tanh"] * 4, optimizer={"type": "adam"})
    s = Session("t", doc, Options(history_bytes=2**20), Scheduler())
    params = sum(p.size for p in s.trainer.net.params)
    assert s.history.every == params * 3 * 8 * 10_000 // 2**20


def test_a_slow_subscriber_is_resynchronized_with_a_fresh_state() -> None:
    s = session("worked-example", outbox_limit=16)
    box = Outbox(limit=16)
    s.attach(box)
    for _ in range(10):
        run(s, '{"type": "step"}')
    assert len(box) <= 16
    msgs = asyncio.run(box.take())
    assert msgs[0].data.startswith(b'{"type":"state"')  # it starts again from the whole state


def test_edits_at_every_step_stay_within_the_history_budget() -> None:
    # a hostile client edits a bias after every step: each edit is a forced checkpoint
    doc = copy.deepcopy(sc.preset("circle"))
    doc.update(layers=[1] + [64] * 9 + [1], activations=["tanh"] * 10, optimizer={"type": "adam"})
    doc["data"] = {"train": {"x": [[0.0], [1.0]], "y": [[0.0], [1.0]]}}
    budget = 4 * 2**20
    s = Session("t", doc, Options(history_bytes=budget), Scheduler())
    per_snap = 3 * 8 * sum(p.size for p in s.trainer.net.params)
    for k in range(300):
        run(s, '{"type": "step"}')
        run(s, f'{{"type": "set_bias", "layer": 1, "unit": 0, "value": {k / 1000}}}')
    assert s.history.bytes <= budget + per_snap
    assert 300 * per_snap > 2 * budget  # without the budget they would not fit
    # the newest steps still come back exactly
    want = s.trainer.net.get()
    run(s, f'{{"type": "seek", "step": {s.history.first}}}')
    run(s, f'{{"type": "seek", "step": {s.history.last}}}')
    assert all(np.array_equal(a, b) for a, b in zip(s.trainer.net.get(), want, strict=True))
