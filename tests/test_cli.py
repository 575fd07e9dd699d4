"""`deltaflow trace`: JSON Lines for every preset, event order, filters, and its exit codes."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import scenario as sc
from app.nn import guard
from tests.engine_helpers import doc, on_points, trainer, worked_by_hand, worked_from_events
from tests.nn import diverging
from tests.web.largest import largest

ROOT = Path(__file__).resolve().parents[1]


def trace_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", "trace", *args]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(trace_cmd(*args), cwd=ROOT, capture_output=True, text=True, timeout=60)


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def expected_order(depth: int) -> list[tuple[str, int | None]]:
    """batch, forward 1..L, output_error, backward L..1, update 1..L."""
    return (
        [("batch", None)]
        + [("forward", l) for l in range(1, depth + 1)]
        + [("output_error", None)]
        + [("backward", l) for l in range(depth, 0, -1)]
        + [("update", l) for l in range(1, depth + 1)]
    )


@pytest.fixture(scope="module")
def preset_traces() -> dict[str, subprocess.CompletedProcess[str]]:
    """`trace PRESET --steps 2` for every preset, run side by side."""
    procs = {
        name: subprocess.Popen(
            trace_cmd(name, "--steps", "2"), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name in sc.preset_names()
    }
    done = {}
    for name, p in procs.items():
        out, err = p.communicate(timeout=60)
        done[name] = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    return done


@pytest.mark.parametrize("name", sc.preset_names())
def test_every_preset_traces_in_phase_order(preset_traces: dict[str, Any], name: str) -> None:
    r = preset_traces[name]
    assert r.returncode == 0, r.stderr
    events = lines(r.stdout)
    assert events[0]["type"] == "epoch" and events[0]["epoch"] == 0 and events[0]["step"] == 0
    depth = len(sc.preset(name)["layers"]) - 1
    phases = [e for e in events[1:] if e["type"] != "epoch"]
    for step in (1, 2):
        mine = [(e["type"], e.get("layer")) for e in phases if e["step"] == step]
        assert mine == expected_order(depth), f"step {step}"
    assert [e["step"] for e in phases] == [1] * (len(phases) // 2) + [2] * (len(phases) // 2)


def test_events_filters_the_types() -> None:
    r = run("worked-example", "--steps", "3", "--events", "output_error,epoch")
    assert r.returncode == 0, r.stderr
    kinds = [(e["type"], e["step"]) for e in lines(r.stdout)]
    # one example, so every step ends an epoch
    assert kinds == [("epoch", 0)] + [(k, s) for s in (1, 2, 3) for k in ("output_error", "epoch")]


def test_epochs_runs_to_the_end_of_the_epoch() -> None:
    r = run("three-class", "--epochs", "1", "--events", "batch,epoch")
    assert r.returncode == 0, r.stderr
    events = lines(r.stdout)
    assert events[-1]["type"] == "epoch" and events[-1]["epoch"] == 1
    # 150 training examples in batches of 10
    assert [e["type"] for e in events].count("batch") == 15 and events[-1]["step"] == 15


def test_worked_example_trace_has_the_engines_and_the_hand_numbers() -> None:
    r = run("worked-example", "--steps", "1")
    assert r.returncode == 0, r.stderr
    events = lines(r.stdout)
    from_cli = worked_from_events(events[1:])
    from_engine = worked_from_events(trainer(sc.preset("worked-example")).step(trace=True))
    assert from_cli == from_engine  # JSON carries float64 exactly
    for name, value in worked_by_hand().items():
        assert from_cli[name] == pytest.approx(value, abs=1e-12), name


# --- errors ----------------------------------------------------------------------------------
def write(tmp_path: Path, content: Any, name: str = "scenario.json") -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


@pytest.mark.parametrize(
    "content, message",
    [
        (doc(optimizer={"type": "sgd", "learning_rate": 0}), "optimizer.learning_rate: Input should be greater than 0"),
        (doc(layers=[2, 65, 1]), "layers[1]: Input should be less than or equal to 64"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "a scenario must be a JSON object"),
    ],
)
def test_an_invalid_scenario_file_exits_2(tmp_path: Path, content: Any, message: str) -> None:
    r = run(write(tmp_path, content), "--steps", "1")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("deltaflow: invalid scenario:") and message in r.stderr


def test_an_unknown_preset_exits_2_and_lists_the_presets() -> None:
    r = run("no-such-preset", "--steps", "1")
    assert r.returncode == 2 and "no such file" in r.stderr and "worked-example" in r.stderr


@pytest.mark.parametrize("args", [("--steps", "0"), ("--events", "forward,bogus", "--steps", "1"), ()])
def test_bad_arguments_exit_2(args: tuple[str, ...]) -> None:
    r = run("worked-example", *args)
    assert r.returncode == 2 and "usage:" in r.stderr


def test_a_diverging_run_exits_3(tmp_path: Path) -> None:
    # a huge input through linear layers at lr 100: each step multiplies the weights by ~1e14
    d = on_points([[1e6, -1e6]], [[1e6]], activations=["linear", "linear"], batch_size=1, init={"scheme": "uniform"})
    d["optimizer"] = {"type": "sgd", "learning_rate": 100}
    r = run(write(tmp_path, d), "--steps", "50", "--events", "epoch")
    assert r.returncode == 3, r.stderr
    # one line of its own, not numpy's overflow warnings
    assert r.stderr.startswith("deltaflow: training diverged at step ") and r.stderr.count("\n") == 1
    events = lines(r.stdout)
    assert events[0]["epoch"] == 0 and 1 < len(events) < 50  # what came before the divergence was written


def test_the_minimal_diverging_case_stops_before_its_first_bad_step(tmp_path: Path) -> None:
    r = run(write(tmp_path, diverging.minimal()), "--steps", "600", "--events", "output_error,update")
    assert r.returncode == 3, r.stderr
    s = diverging.FIRST_BAD
    assert (
        r.stderr
        == f"deltaflow: training diverged at step {s}: it makes the loss infinite; stopped after step {s - 1}\n"
    )
    events = lines(r.stdout)
    # the bad step itself is not written: the run ends at the state before it
    assert events[-1]["type"] == "update" and events[-1]["step"] == s - 1
    assert all(e["loss"] is not None for e in events if e["type"] == "output_error")  # inf would be null
    # the same step as the guard gives the untraced trainer
    t = trainer(diverging.minimal())
    with pytest.raises(guard.Diverged) as err:
        t.train(10 * s)
    assert err.value.step == s and t.step_count == s - 1
    w = events[-1]["weights"][0][0]
    assert w == t.net.w[0][0, 0]


def test_a_run_that_diverges_on_its_first_step_writes_no_step(tmp_path: Path) -> None:
    # at the limits the start is finite (|z| <= (64e6)^10 1e6 ~ 1e84), but lr 100 overflows the first update
    n = [64] * 11
    weights = [[[1e6] * 64 for _ in range(64)] for _ in range(10)]
    d = on_points([[1e6] * 64], [[0.0] * 64], layers=n, activations=["linear"] * 10, weights=weights, batch_size=1)
    d["optimizer"] = {"type": "sgd", "learning_rate": 100}
    r = run(write(tmp_path, d), "--steps", "5")
    assert r.returncode == 3
    assert r.stderr.startswith("deltaflow: training diverged at step 1: ") and r.stderr.endswith(
        "stopped after step 0\n"
    )
    assert [e["type"] for e in lines(r.stdout)] == ["epoch"]


def test_a_scenario_at_every_limit_traces(tmp_path: Path) -> None:
    doc = largest()
    r = run(write(tmp_path, doc), "--steps", "1", "--events", "epoch,update")
    assert r.returncode == 0, r.stderr
    events = lines(r.stdout)
    assert [(e["type"], e["step"]) for e in events] == [("epoch", 0)] + [("update", 1)] * 10 + [("epoch", 1)]
    assert events[1]["dw"] == [[0.0] * 64] * 64  # W1 is frozen
    assert events[2]["biases"] == [0.0] * 64  # layer 2 is bias-free


# --- --compare: paired curves ------------------------------------------------------------------
def test_compare_pairs_the_curves_of_two_runs_on_the_same_batches(tmp_path: Path) -> None:
    a = {**sc.preset("circle"), "shuffle": True, "seed": 6}
    b = {**a, "optimizer": {"type": "momentum", "learning_rate": 0.05}, "batch_size": 7, "seed": 9}
    r = run(write(tmp_path, a, "a.json"), "--compare", write(tmp_path, b, "b.json"), "--steps", "30")
    assert r.returncode == 0, r.stderr
    rows = lines(r.stdout)
    assert [row["step"] for row in rows] == list(range(31))
    # by hand: b's network and optimizer, a's data and batch order
    ta, tb = trainer(a), trainer(b)
    tb.x, tb.y, tb.x_test, tb.y_test, tb.seed = ta.x, ta.y, ta.x_test, ta.y_test, ta.seed
    for row in rows:
        assert row["train_loss_a"] == pytest.approx(ta.evaluate(ta.x, ta.y)[0], abs=1e-12)
        assert row["train_loss_b"] == pytest.approx(tb.evaluate(tb.x, tb.y)[0], abs=1e-12)
        assert row["test_loss_b"] == pytest.approx(tb.evaluate(ta.x_test, ta.y_test)[0], abs=1e-12)
        dist = sum(((p - q) ** 2).sum() for p, q in zip(ta.net.params, tb.net.params)) ** 0.5
        assert row["distance"] == pytest.approx(dist, abs=1e-12)
        assert (row["epoch_a"], row["epoch_b"]) == (ta.epochs_done, tb.epochs_done)
        ta.step()
        tb.step()
    assert rows[-1]["epoch_b"] == 30 * 7 // 250 and rows[-1]["epoch_a"] == 1


def test_compare_of_a_run_with_itself_is_the_same_curve_twice() -> None:
    r = run("xor", "--compare", "xor", "--epochs", "5")
    rows = lines(r.stdout)
    assert r.returncode == 0 and len(rows) == 6
    assert all(row["train_loss_a"] == row["train_loss_b"] and row["distance"] == 0 for row in rows)


def test_compare_refuses_a_network_that_does_not_fit_the_data(tmp_path: Path) -> None:
    r = run("xor", "--compare", "three-class", "--steps", "2")
    assert r.returncode == 2 and "--compare: run b's layers [2, 5, 3] need 2 inputs and 1 outputs" in r.stderr


def test_compare_names_the_run_that_diverges(tmp_path: Path) -> None:
    d = diverging.minimal()
    r = run(
        write(tmp_path, {**d, "optimizer": {"type": "sgd", "learning_rate": 1e-3}}, "a.json"),
        "--compare",
        write(tmp_path, d, "b.json"),
        "--steps",
        "600",
    )
    assert r.returncode == 3 and r.stderr.startswith("deltaflow: run b: training diverged at step ")
    assert len(lines(r.stdout)) == diverging.FIRST_BAD


def test_compare_takes_no_event_filter() -> None:
    r = run("xor", "--compare", "xor", "--steps", "2", "--events", "epoch")
    assert r.returncode == 2 and "--events does not apply to --compare" in r.stderr


def test_serve_with_workers_needs_redis(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from app import cli
    from app.web.settings import get_settings

    monkeypatch.delenv("DELTAFLOW_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert cli.main(["serve", "--workers", "2"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "--workers 2 needs Redis" in err and "DELTAFLOW_REDIS_URL" in err


@pytest.mark.parametrize("workers", ["0", "65", "two"])
def test_serve_refuses_a_bad_worker_count(workers: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--workers", workers], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2 and "--workers" in r.stderr
