"""A question target's value read off `deltaflow trace` output, independently of app/lessons."""

import json
from typing import Any

from app.cli import trace
from app.protocol import encode


def traced_step(doc: dict[str, Any], step: int) -> list[dict[str, Any]]:
    """The JSON events of step `step` of a run, as `deltaflow trace` writes them."""
    events = [json.loads(encode(e)) for e in trace(doc, steps=step)]
    return [e for e in events if e.get("step") == step and e["type"] != "epoch"]


def trace_value(events: list[dict[str, Any]], target: dict[str, Any]) -> float:
    """What target {quantity, layer, unit, from, example} names in one traced step."""
    q, l = target["quantity"], target.get("layer", 1)
    j, i, n = target.get("unit", 0), target.get("from", 0), target.get("example", 0)

    def one(kind: str, layer: int | None = None) -> dict[str, Any]:
        return next(e for e in events if e["type"] == kind and (layer is None or e["layer"] == layer))

    found: dict[str, Any] = {
        "z": lambda: one("forward", l)["z"][n][j],
        "a": lambda: one("forward", l)["a"][n][j],
        "E": lambda: one("output_error")["losses"][n],
        "loss": lambda: one("output_error")["loss"],
        "cost": lambda: one("output_error")["loss"],  # the lessons that ask it have no penalty
        "delta": lambda: one("backward", l)["delta"][n][j],
        "grad_w": lambda: one("backward", l)["grad_w"][j][i],
        "grad_b": lambda: one("backward", l)["grad_b"][j],
        "new_w": lambda: one("update", l)["weights"][j][i],
        "new_b": lambda: one("update", l)["biases"][j],
        "dw": lambda: one("update", l)["dw"][j][i],
        "db": lambda: one("update", l)["db"][j],
        # before the step: the new weight less its change
        "w": lambda: one("update", l)["weights"][j][i] - one("update", l)["dw"][j][i],
    }
    return float(found[q]())
