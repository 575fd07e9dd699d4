"""A run whose data was edited comes back from the store with its data versions: the data in
force, and the data of then for a seek to a step before the edit."""

import json
from pathlib import Path

import numpy as np

from app import scenario as sc
from tests.session.test_store import registry, reopen, run, same, saved, used


def edited(data: dict, x: list[float], y: list[float]) -> dict:
    return {"train": {"x": [*data["train"]["x"], x], "y": [*data["train"]["y"], y]}}


def test_an_edited_run_comes_back_with_each_version_of_its_data(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    reg = registry(path)
    doc = sc.preset("three-class")
    doc["optimizer"] = {"type": "adam", "learning_rate": 0.01}
    s = used(reg, doc)
    base = s.cursor.data
    given = {"train": {"x": base.x.tolist(), "y": base.y.tolist()}}
    run(s, '{"type": "step", "count": 12}')
    saved(reg, s)  # the first version is written before the edit
    one = edited(given, [0.5, 0.5], [0.0, 1.0, 0.0])
    run(s, json.dumps({"type": "set_data", "data": one}), '{"type": "step", "count": 6}')
    two = edited(one, [-0.5, 0.25], [0.0, 0.0, 1.0])
    run(s, json.dumps({"type": "set_data", "data": two}), '{"type": "step", "count": 4}')
    saved(reg, s)
    assert len(s.trainer.x) == len(base.x) + 2 and s.trainer.step_count == 22
    weights = {}
    for k in (5, 15, 20):
        run(s, f'{{"type": "seek", "step": {k}}}')
        weights[k] = (s.trainer.net.get(), len(s.trainer.x))
    run(s, '{"type": "seek", "step": 22}')
    reg2 = reopen(reg, path)
    r = reg2.get(s.id)
    assert r is not None and r is not s
    assert r.scenario == s.scenario and r.cursor.data == s.cursor.data and r.cursor.extent == s.cursor.extent
    assert same(r.trainer.snapshot(), s.trainer.snapshot())
    assert np.array_equal(r.trainer.x, s.trainer.x) and r.history.steps == s.history.steps
    for k, (w, n) in weights.items():
        run(r, f'{{"type": "seek", "step": {k}}}')
        assert same(r.trainer.net.get(), w) and len(r.trainer.x) == n, k
    assert [weights[k][1] for k in (5, 15, 20)] == [len(base.x), len(base.x) + 1, len(base.x) + 2]
    reg2.close()
