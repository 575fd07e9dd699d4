"""The benchmark's pure helpers compute the right values (no timings here: the machine is noisy)."""

import numpy as np
import pytest

from app import scenario as sc
from app.protocol import encode
from benchmarks.common import percentile
from benchmarks.engine import circle_doc, floor_epoch, floor_loss
from benchmarks.run import verdict
from benchmarks.server import frame_epoch, rate_between


@pytest.mark.parametrize(
    ("layers", "batch"),
    [(None, None), ([2, 8, 8, 1], 40), ([2, 16, 16, 16, 1], 1)],  # 40 leaves a partial last batch
)
def test_floor_epoch_is_the_engines_setting(layers: list[int] | None, batch: int | None) -> None:
    # the same weights after one epoch prove the floor does the same arithmetic as the engine
    t = sc.build(sc.parse(circle_doc(layers, batch))).trainer
    ws = [w.copy() for w in t.net.w]
    bs = [b.copy() for b in t.net.b]
    floor_epoch(ws, bs, t.x, t.y, t.batch_size, t.optimizer.learning_rate)
    while t.epochs_done < 1:
        t.step()
    for mine, engine in zip(ws + bs, t.net.w + t.net.b):
        np.testing.assert_allclose(mine, engine, rtol=0, atol=1e-12)
    assert floor_loss(ws, bs, t.x, t.y) == pytest.approx(t.evaluate(t.x, t.y)[0], abs=1e-12)


def test_circle_doc_is_the_preset_unless_changed() -> None:
    assert circle_doc() == sc.preset("circle")
    doc = circle_doc([2, 64, 64, 1], 50)
    assert doc["activations"] == ["tanh"] * 3 and doc["batch_size"] == 50
    sc.parse(doc)  # still a valid scenario


def test_percentile_matches_numpy() -> None:
    values = list(np.random.default_rng(3).exponential(size=257))
    for q in (0, 1, 50, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q), rel=1e-12)
    assert percentile([4.0], 99) == 4.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_frame_epoch_reads_an_encoded_frame() -> None:
    frame = {"type": "frame", "step": 2500, "epoch": 100, "train_loss": 0.01, "weights": [np.ones((2, 2))]}
    assert frame_epoch(encode(frame).decode()) == 100
    assert frame_epoch('{"type":"state"}') is None


def test_rate_between_uses_the_first_and_last_sample_inside() -> None:
    samples = [(0.0, 0), (1.0, 10), (2.0, 30), (3.0, 60), (9.0, 999)]
    assert rate_between(samples, 0.5, 3.0) == pytest.approx(25.0)
    assert rate_between(samples, 3.5, 4.0) is None


def test_verdict_scales_by_the_floor_of_the_same_run() -> None:
    r = {"step": 4.0, "rtt": 1.0, "fps": 50.0, "missing": None}
    assert verdict(r, "step", "<=", 5.0, "rtt") == (5.0, True)
    assert verdict(r, "fps", ">=", 55.0, None) == (55.0, False)
    assert verdict(r, "missing", ">=", 55.0, None) == (55.0, None)
    assert verdict(r, "step", "<=", 5.0, "absent") == (None, None)


def test_top_functions_charges_each_gap_to_the_sample_before_it() -> None:
    from benchmarks.page import top_functions

    frame = {"url": "", "lineNumber": 0}
    nodes = [
        {"id": 1, "callFrame": {**frame, "functionName": "draw", "url": "http://x/static/views/chart.js?v=1"}},
        {"id": 2, "callFrame": {**frame, "functionName": "(idle)"}},
    ]
    # the delta before each sample is the time since the one before: 2 + 1 ms to draw, 4 ms idle
    profile = {"nodes": nodes, "samples": [1, 1, 2, 2], "timeDeltas": [500, 2000, 1000, 4000]}
    top = dict(top_functions(profile))
    assert top == {"draw chart.js?v=1:1": 3.0, "(idle)": 4.0}


def test_page_rows_meet_the_bounds_of_their_cpu() -> None:
    from benchmarks.page import row_targets

    quick = {"busy": 0.10, "frame_p50_ms": 16.7, "frame_p95_ms": 19.0, "pause_ms": 500.0}
    assert row_targets(quick, 1.0)  # the pause bound is for the throttled rows
    assert not row_targets({**quick, "busy": 0.2}, 1.0)
    assert not row_targets({**quick, "frame_p95_ms": 25.0}, 1.0)
    slow = {"busy": 0.9, "frame_p50_ms": 19.9, "frame_p95_ms": 40.0, "pause_ms": 90.0}
    assert row_targets(slow, 4.0)  # 50 fps and a pause within 100 ms; busy is not bounded there
    assert not row_targets({**slow, "pause_ms": 120.0}, 4.0)
    assert not row_targets({**slow, "frame_p50_ms": None}, 4.0)
