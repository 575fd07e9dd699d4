"""docs/scenario.md keeps up with the code: every key, limit, generator, optimizer and preset."""

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from app import scenario as sc
from app.nn.datasets import GENERATORS

SCENARIO_DOC = Path(__file__).resolve().parents[1] / "docs" / "scenario.md"


def scenario_doc() -> str:
    return SCENARIO_DOC.read_text()


def models(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models inside a field's annotation (through lists, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in models(arg)]


def keys(model: type[BaseModel]) -> set[str]:
    """Every key a scenario document can hold, at any depth."""
    found = set()
    for name, field in model.model_fields.items():
        found.add(name)
        for inner in models(field.annotation):
            found |= keys(inner)
    return found


def literals(annotation: object) -> set[str]:
    """Every allowed string of a Literal annotation, through unions and lists."""
    if typing.get_origin(annotation) is typing.Literal:
        return {str(v) for v in typing.get_args(annotation)}
    return {v for arg in typing.get_args(annotation) for v in literals(arg)}


def limit_rows() -> dict[str, str]:
    """The Limits table: `key` -> its value cell."""
    return dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", scenario_doc().split("## Limits", 1)[1], flags=re.M))


def test_scenario_doc_is_linked_from_the_readme() -> None:
    assert "docs/scenario.md" in (SCENARIO_DOC.parents[1] / "README.md").read_text()


def test_scenario_doc_names_every_key() -> None:
    found = keys(sc.Scenario)
    assert {"layers", "optimizer", "memory", "beta2", "train_fraction", "scheme", "x"} <= found  # the walk goes deep
    missing = sorted(k for k in found if f"`{k}`" not in scenario_doc())
    assert not missing, f"docs/scenario.md does not mention {missing}"


@pytest.mark.parametrize("key, value", sorted(sc.LIMITS.items()))
def test_scenario_doc_lists_every_limit_with_its_value(key: str, value: float) -> None:
    rows = limit_rows()
    assert key in rows, f"the Limits table has no row for {key}"
    assert float(rows[key].replace(",", "")) == value


def test_scenario_doc_limits_table_has_no_stale_rows() -> None:
    assert set(limit_rows()) == set(sc.LIMITS)


def test_scenario_doc_lists_every_preset() -> None:
    listed = re.findall(r"^- `([\w-]+)`: ", scenario_doc().split("## Presets", 1)[1], flags=re.M)
    assert listed == sc.preset_names()


def test_scenario_doc_lists_every_generator() -> None:
    text = scenario_doc()
    assert set(GENERATORS) == literals(sc.GeneratedData.model_fields["generator"].annotation)
    missing = sorted(g for g in GENERATORS if f"| `{g}` |" not in text)
    assert not missing, f"the generator table lacks {missing}"


def test_scenario_doc_has_a_section_per_optimizer() -> None:
    types_ = {literals(m.model_fields["type"].annotation).pop() for m in models(sc.OptimizerSpec)}
    assert types_ == {"sgd", "momentum", "adam", "lbfgs"}
    missing = sorted(t for t in types_ if f"### `{t}`" not in scenario_doc())
    assert not missing, f"no section for {missing}"


@pytest.mark.parametrize(
    "annotation",
    [
        sc.Scenario.model_fields["activations"].annotation,
        sc.Scenario.model_fields["loss"].annotation,
        sc.Regularizer.model_fields["type"].annotation,
        sc.Init.model_fields["scheme"].annotation,
    ],
    ids=["activations", "loss", "regularization", "init"],
)
def test_scenario_doc_names_every_choice(annotation: object) -> None:
    names = literals(annotation)
    assert names
    missing = sorted(n for n in names if f"`{n}`" not in scenario_doc())
    assert not missing, f"docs/scenario.md does not mention {missing}"
