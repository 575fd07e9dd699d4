"""Printable worksheets: one step of a run worked by hand, with an answer key on its own page.

Step N is the step `deltaflow trace` numbers N: the sheet shows the network as it is before
it (after N - 1 steps), leaves blanks for the first example's z, a, E and delta, the batch's
dC/dw and the new weights, and its key holds the trace's own values of step N.
"""

from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from app import scenario as sc
from app.lessons.questions import StepValues

MAX_STEP = 10_000
MAX_WEIGHTS = 120  # a sheet beyond this is no longer worked by hand
CSS = "css/worksheet.css"


class WorksheetError(ValueError):
    """A worksheet that cannot be made; the message names the parameter."""


def _templates() -> Path:
    root = Path(__file__).resolve().parents[2]
    packaged = root / "app" / "templates"
    return packaged if packaged.is_dir() else root / "templates"


def _static() -> Path:
    root = Path(__file__).resolve().parents[2]
    packaged = root / "app" / "static"
    return packaged if packaged.is_dir() else root / "static"


_env = jinja2.Environment(loader=jinja2.FileSystemLoader(_templates()), autoescape=True)


def sheet(doc: dict[str, Any], step: int, name: str = "") -> dict[str, Any]:
    """The numbers of a worksheet: the network before step `step` and the step's values.

    WorksheetError names what is wrong: the scenario, the step, a network too large.
    """
    if not 1 <= step <= MAX_STEP:
        raise WorksheetError(f"step: between 1 and {MAX_STEP}, got {step}")
    try:
        s = sc.parse(doc)
    except sc.ScenarioError as e:
        raise WorksheetError(f"scenario: {e}") from None
    n_weights = sum(a * b for a, b in zip(s.layers, s.layers[1:]))
    if n_weights > MAX_WEIGHTS:
        raise WorksheetError(f"scenario: {n_weights} weights; a worksheet takes at most {MAX_WEIGHTS}")
    t = sc.build(s).trainer
    with np.errstate(all="ignore"):
        for _ in range(step - 1):
            t.step()
    if not t.net.finite():
        raise WorksheetError(f"step: the run has diverged before step {step}")
    ws, bs = [w.copy() for w in t.net.w], [b.copy() for b in t.net.b]
    v = StepValues(t)
    batch = v.events[0]
    fwd = {e["layer"]: e for e in v.events if e["type"] == "forward"}
    back = {e["layer"]: e for e in v.events if e["type"] == "backward"}
    upd = {e["layer"]: e for e in v.events if e["type"] == "update"}
    err = next(e for e in v.events if e["type"] == "output_error")
    layers = []
    for l in range(1, v.depth + 1):
        units = [
            {"j": j, "z": fwd[l]["z"][0][j], "a": fwd[l]["a"][0][j], "delta": back[l]["delta"][0][j]}
            for j in range(s.layers[l])
        ]
        weights = [
            {
                "j": j,
                "i": i,
                "w": ws[l - 1][j][i],
                "grad": back[l]["grad_w"][j][i],
                "new": upd[l]["weights"][j][i],
            }
            for j in range(s.layers[l])
            for i in range(s.layers[l - 1])
        ]
        biases = [
            {"j": j, "b": bs[l - 1][j], "grad": back[l]["grad_b"][j], "new": upd[l]["biases"][j]}
            for j in range(s.layers[l])
        ]
        layers.append({"l": l, "act": s.activations[l - 1], "units": units, "weights": weights, "biases": biases})
    return {
        "name": name or s.name,
        "title": s.title or s.name,
        "step": step,
        "layers_text": "-".join(map(str, s.layers)),
        "loss": s.loss,
        "optimizer": s.optimizer.type,
        "learning_rate": s.optimizer.learning_rate,
        "batch_size": len(batch["x"]),
        "x": [float(u) for u in batch["x"][0]],
        "y": [float(u) for u in batch["y"][0]],
        "E": float(err["losses"][0]),
        "layers": layers,
        "diagram": diagram(s.layers, ws, bs, [float(u) for u in batch["x"][0]]),
    }


LABELLED_WEIGHTS = 24  # up to this many, each edge of the diagram carries its weight


def diagram(layers: list[int], ws: list[Any], bs: list[Any], x: list[float]) -> dict[str, Any]:
    """The network as an SVG drawing's parts: a column of units per layer, an edge per weight
    (labelled with its value near its target end when the network is small), biases beside units."""
    width, height, r = 640, max(160, 70 * max(layers)), 16
    cols = [60 + k * (width - 120) / max(1, len(layers) - 1) for k in range(len(layers))]

    def at(l: int, j: int) -> tuple[float, float]:
        return cols[l], height / 2 + (j - (layers[l] - 1) / 2) * 70

    label = sum(a * b for a, b in zip(layers, layers[1:])) <= LABELLED_WEIGHTS
    edges, units = [], []
    for l in range(1, len(layers)):
        for j in range(layers[l]):
            x2, y2 = at(l, j)
            for i in range(layers[l - 1]):
                x1, y1 = at(l - 1, i)
                t = 0.72  # labels near the target, where edges into one unit fan apart
                edges.append(
                    {
                        "x1": x1 + r,
                        "y1": y1,
                        "x2": x2 - r,
                        "y2": y2,
                        "lx": x1 + (x2 - x1) * t,
                        "ly": y1 + (y2 - y1) * t - 4,
                        "w": fmt(ws[l - 1][j][i]) if label else "",
                    }
                )
            units.append({"x": x2, "y": y2, "name": f"{l}:{j}", "note": f"b = {fmt(bs[l - 1][j])}"})
    for i in range(layers[0]):
        x0, y0 = at(0, i)
        units.append({"x": x0, "y": y0, "name": f"x{i}", "note": f"{fmt(x[i])}"})
    return {"width": width, "height": height, "r": r, "edges": edges, "units": units}


def fmt(value: float) -> str:
    return f"{float(value):.6g}".replace("-", "−")


def render(doc: dict[str, Any], step: int, name: str = "", css_url: str | None = None) -> str:
    """The worksheet as one HTML page. With `css_url` it links the stylesheet (served under the
    page's CSP); without, it carries it inline (a file opened or printed from disk)."""
    ctx = sheet(doc, step, name)
    css = None if css_url else (_static() / CSS).read_text(encoding="utf-8")
    tpl = _env.get_template("worksheet.html")
    return tpl.render(**ctx, css=css, css_url=css_url, fmt=fmt, exact=lambda x: repr(float(x)))
