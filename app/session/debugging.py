"""The commands that debug a run: breakpoints, the computation graph, and the state of any
step in the history for gradcheck and slice (the cursor stays where it is)."""

from typing import TYPE_CHECKING, Any

import numpy as np

from app import protocol as p
from app import scenario as sc
from app.nn import graph
from app.protocol import ProtocolError
from app.session import dataedit, work

if TYPE_CHECKING:
    from app.session.cursor import Cursor
    from app.session.session import Session

GRAPH_MAX_UNITS = 30  # the whole network's graph: networks of at most this many units, inputs included


def trainer_at(c: "Cursor", step: int) -> Any:
    """A trainer of its own at the checkpoint at or before step `step` of the history, with the
    hyper-parameters in force then; `replay` brings it to `step`."""
    t = c.trainer_copy()
    snap = c.history.base(step)
    cfg = snap["config"]
    t.optimizer = sc.make_optimizer(cfg["optimizer"])
    t.reg = sc.Regularization(cfg["regularization"].type, cfg["regularization"].rate)
    t.batch_size = cfg["batch_size"]
    dataedit.trainer_data(c, snap, t)
    t.restore(snap)
    return t


def replay(t: Any, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps t on to step `step` (deterministic, as the cursor's `goto`); the batch of the step after it."""
    with np.errstate(all="ignore"):
        while t.step_count < step:
            t.step()
    idx = t.next_indices()
    return t.x[idx], t.y[idx]


async def at_step(s: "Session", step: int | None, kind: str) -> tuple[Any, Any, Any, int]:
    """A trainer of its own at step `step` of the history (None: the cursor's), the batch of the
    step that follows it, and the step. The cursor stays where it is."""
    c = s.cursor
    if step is None or step == c.step_shown():
        x, y = c.batch()
        return c.trainer_copy(), x, y, c.step_shown()
    h = c.history
    if not h.first <= step <= h.last:
        raise ProtocolError(
            "out_of_history", f"{kind}.step: step {step} is outside the history ({h.first}–{h.last})", kind
        )
    t = trainer_at(c, step)  # copied here, on the loop, where no training slice runs meanwhile
    x, y = await work.run(replay, t, step, flops=(step - t.step_count) * c.step_flops())
    return t, x, y, step


async def breakpoints(s: "Session", cmd: p.Breakpoints) -> None:
    c = s.cursor
    c.breakpoints.set([b.model_dump() for b in cmd.on], c.trainer)
    s.publish(s.state())


async def graph_(s: "Session", cmd: p.Graph) -> None:
    c = s.cursor
    t = c.trainer
    layers = t.net.layers
    n = len(t.x)
    if cmd.example >= n:
        raise ProtocolError("out_of_range", f"graph.example: the training set has {n} examples (0–{n - 1})", "graph")
    if cmd.layer is not None and cmd.unit is not None:
        depth = len(layers) - 1
        if cmd.layer > depth:
            raise ProtocolError(
                "out_of_range", f"graph.layer: the network has {depth} weight layers (1–{depth})", "graph"
            )
        if cmd.unit >= layers[cmd.layer]:
            k = layers[cmd.layer]
            raise ProtocolError("out_of_range", f"graph.unit: layer {cmd.layer} has {k} units (0–{k - 1})", "graph")
    elif sum(layers) > GRAPH_MAX_UNITS:
        raise ProtocolError(
            "out_of_range",
            f"graph: the whole network's graph is drawn for at most {GRAPH_MAX_UNITS} units and this one has "
            f"{sum(layers)}; give a layer and a unit",
            "graph",
        )
    x, y = t.x[cmd.example], t.y[cmd.example]

    def drawn() -> tuple[Any, Any]:
        with c.at_cursor(), np.errstate(all="ignore"):
            if cmd.layer is not None and cmd.unit is not None:
                return graph.unit_graph(t.net, x, y, t.loss, cmd.layer, cmd.unit)
            return graph.network_graph(t.net, x, y, t.loss)

    nodes, edges = await work.run(drawn, flops=2 * work.forward_flops(layers, 1))  # a pass each way
    s.publish(
        {
            "type": "graph",
            "step": c.step_shown(),
            "example": cmd.example,
            "layer": cmd.layer,
            "unit": cmd.unit,
            "nodes": nodes,
            "edges": edges,
        }
    )
