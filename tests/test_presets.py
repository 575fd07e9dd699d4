"""Every preset keeps the promise docs/presets.md makes for it: trained for its budget of
steps, it reaches its outcome."""

import copy
import operator
import re
from pathlib import Path

import pytest

from app import scenario as sc
from app.nn.trainer import Trainer

DOC = Path(__file__).resolve().parents[1] / "docs" / "presets.md"
OPS = {"=": operator.eq, "≥": operator.ge, "≤": operator.le}
CLAUSE = re.compile(r"^(train|test) (accuracy|loss) ([=≥≤]) ([0-9.]+)(%?)$")


def promises() -> dict[str, tuple[int, str]]:
    """preset name -> (steps, outcome text), from the tables in docs/presets.md."""
    rows = re.findall(r"^\| `([\w-]+)` \| (\d+) \| ([^|]+?) \|$", DOC.read_text(), flags=re.M)
    return {name: (int(steps), outcome) for name, steps, outcome in rows}


def failing_on_purpose() -> set[str]:
    """The presets of the section "Presets that fail on purpose"."""
    part = DOC.read_text().split("## Presets that fail on purpose", 1)[1]
    return set(re.findall(r"^\| `([\w-]+)` \|", part, flags=re.M))


def measure(t: Trainer, which: str, metric: str) -> float | None:
    x, y = (t.x, t.y) if which == "train" else (t.x_test, t.y_test)
    loss, acc = t.evaluate(x, y)
    return loss if metric == "loss" else acc


def failures(t: Trainer, outcome: str) -> list[str]:
    """The clauses of `outcome` ("train accuracy = 100%, test loss ≤ 0.1") that `t` misses."""
    missed = []
    for clause in outcome.split(", "):
        m = CLAUSE.match(clause)
        assert m, f"docs/presets.md: cannot read the outcome {clause!r}"
        which, metric, op, value, pct = m.groups()
        want = float(value) / (100 if pct else 1)
        got = measure(t, which, metric)
        if got is None or not OPS[op](got, want) and not (op == "=" and abs(got - want) < 1e-12):
            missed.append(f"{clause}: got {got}")
    return missed


def test_every_preset_has_a_promise() -> None:
    assert sorted(promises()) == sorted(sc.preset_names())


@pytest.mark.parametrize("name", sc.preset_names())
def test_each_preset_reaches_its_documented_outcome(name: str) -> None:
    steps, outcome = promises()[name]
    t = sc.build(sc.parse(sc.preset(name))).trainer
    before = failures(t, outcome)
    t.train(steps)
    assert t.step_count == steps
    assert not failures(t, outcome), f"{name} after {steps} steps: {failures(t, outcome)}"
    # the promise is something training does: an untrained network does not already keep it
    # (a preset that shows a network stuck may start where it stays)
    assert before or name in failing_on_purpose(), f"{name}: the outcome {outcome!r} holds before any training"


@pytest.mark.parametrize("seed", range(10))
def test_the_encoder_reconstructs_all_eight_patterns_from_any_seed(seed: int) -> None:
    steps, _ = promises()["encoder-8-3-8"]
    doc = copy.deepcopy(sc.preset("encoder-8-3-8"))
    doc["seed"] = seed
    t = sc.build(sc.parse(doc)).trainer
    t.train(steps)
    # each one-hot pattern k comes back with its largest output at k
    assert [int(k) for k in t.net.predict(t.x).argmax(axis=1)] == [int(k) for k in t.x.argmax(axis=1)]
