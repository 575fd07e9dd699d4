"""One handler per command. Each checks everything before it changes anything, so a
ProtocolError leaves the session as it was."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from app import protocol as p
from app import scenario as sc
from app.nn.gradcheck import gradcheck
from app.protocol import ProtocolError
from app.session import play
from app.session.cursor import Event

if TYPE_CHECKING:
    from app.session.session import Session

MAX_GRADCHECK_PARAMS = 5000  # two cost evaluations per parameter


def parse_scenario(doc: Any, code: str, kind: str, where: str) -> sc.Scenario:
    """A scenario, or the ProtocolError that names what is wrong with it."""
    try:
        return sc.parse(doc)
    except sc.ScenarioError as e:
        raise ProtocolError(code, f"{where}: {e}", kind) from None


async def load(s: "Session", cmd: p.Load) -> None:
    if (cmd.scenario is None) == (cmd.preset is None):
        raise ProtocolError("invalid_command", "load: give exactly one of scenario and preset", "load")
    if cmd.preset is not None:
        try:
            doc = sc.preset(cmd.preset)
        except KeyError:
            names = ", ".join(sc.preset_names())
            raise ProtocolError(
                "unknown_preset", f"load.preset: no preset {cmd.preset!r}; one of {names}", "load"
            ) from None
    else:
        doc = cmd.scenario  # type: ignore[assignment]
    s.load(parse_scenario(doc, "invalid_scenario", "load", "scenario"))


async def reset(s: "Session", cmd: p.Reset) -> None:
    s.load(s.scenario)


async def next_(s: "Session", cmd: p.Next) -> None:
    s.stop()
    s.publish(*s.cursor.next_events())
    if s.cursor.pending is None:
        s.publish_maps()


async def step(s: "Session", cmd: p.Step) -> None:
    s.stop()
    c = s.cursor
    events = c.finish() if c.pending is not None else c.traced_step()
    if cmd.count > 1:
        # the last step is sent whole; of the ones before it, only the epochs they end
        epochs: list[Event] = []
        for i in range(cmd.count - 1):
            if s.interrupt:
                break
            epochs += [e for e in events if e["type"] == "epoch"]
            if i < cmd.count - 2:
                end = c.fast_step()
                events = [end] if end else []
            else:
                events = c.traced_step()
            if i % 64 == 63:
                await asyncio.sleep(0)  # let other sessions and connections run
        s.interrupt = False
        events = [*epochs, *events, s.state()]
    s.publish(*events)
    s.publish_maps()


async def epoch(s: "Session", cmd: p.Epoch) -> None:
    s.stop()
    c = s.cursor
    start = c.trainer.epochs_done
    end: Event | None = None
    if c.pending is not None:
        end = next((e for e in c.finish() if e["type"] == "epoch"), None)
    n = 0
    while end is None and c.trainer.epochs_done == start and not s.interrupt:
        end = c.fast_step()
        n += 1
        if n % 64 == 0:
            await asyncio.sleep(0)
    s.interrupt = False
    s.publish(*([end] if end else []), s.state())
    s.publish_maps()


async def play_(s: "Session", cmd: p.Play) -> None:
    s.stop()
    s.paused_reason = None
    if cmd.mode == "animate":
        play.start_animation(s, cmd.speed)
    else:
        play.start_training(s, cmd.fps or s.options.frame_rate)
    s.publish(s.state())


async def pause(s: "Session", cmd: p.Pause) -> None:
    s.stop()
    s.publish(s.state())
    s.publish_maps()


async def seek(s: "Session", cmd: p.Seek) -> None:
    h = s.cursor.history
    if not h.first <= cmd.step <= h.last:
        raise ProtocolError(
            "out_of_history", f"seek.step: step {cmd.step} is outside the history ({h.first}–{h.last})", "seek"
        )
    s.stop()
    s.cursor.abort()
    s.cursor.goto(cmd.step)
    s.publish(s.state())
    s.publish_maps()


async def set_(s: "Session", cmd: p.Set) -> None:
    c = s.cursor
    update: dict[str, Any] = {}
    if cmd.optimizer is not None:
        update["optimizer"] = cmd.optimizer.model_dump()
    if cmd.learning_rate is not None:
        update["optimizer"] = {**c.scenario.optimizer.model_dump(), **update.get("optimizer", {})}
        update["optimizer"]["learning_rate"] = cmd.learning_rate
    if cmd.regularization is not None:
        update["regularization"] = cmd.regularization.model_dump()
    if cmd.batch_size is not None:
        update["batch_size"] = cmd.batch_size
    doc = {**c.scenario.model_dump(mode="json", exclude_none=True), **update}
    new = parse_scenario(doc, "invalid_command", "set", "set")
    c.abort()
    c.configure(new)
    c.edited()
    s.publish(s.state())


async def set_weight(s: "Session", cmd: p.SetWeight) -> None:
    check_weight(s, cmd.layer, cmd.to, cmd.from_, "set_weight")
    c = s.cursor
    c.abort()
    c.trainer.net.w[cmd.layer - 1][cmd.to, cmd.from_] = cmd.value
    c.edited()
    s.publish(s.state())
    s.publish_maps()


async def set_bias(s: "Session", cmd: p.SetBias) -> None:
    check_layer(s, cmd.layer, "set_bias")
    c = s.cursor
    n = c.trainer.net.layers[cmd.layer]
    if cmd.unit >= n:
        raise ProtocolError("out_of_range", f"set_bias.unit: layer {cmd.layer} has {n} units (0–{n - 1})", "set_bias")
    c.abort()
    c.trainer.net.b[cmd.layer - 1][cmd.unit] = cmd.value
    c.edited()
    s.publish(s.state())
    s.publish_maps()


async def gradcheck_(s: "Session", cmd: p.Gradcheck) -> None:
    c = s.cursor
    n = sum(x.size for x in c.trainer.net.params)
    if n > MAX_GRADCHECK_PARAMS:
        raise ProtocolError(
            "out_of_range", f"gradcheck: the network has {n} parameters; at most {MAX_GRADCHECK_PARAMS}", "gradcheck"
        )
    x, y = c.batch()
    eps = 1e-5
    with c.at_cursor():
        layers = gradcheck(c.trainer, x, y, eps)
    worst = max(float(max(r["rel_error_w"].max(), r["rel_error_b"].max())) for r in layers)
    s.publish({"type": "gradcheck", "step": c.step_shown(), "epsilon": eps, "max_rel_error": worst, "layers": layers})


async def slice_(s: "Session", cmd: p.Slice) -> None:
    check_weight(s, cmd.layer, cmd.to, cmd.from_, "slice")
    c = s.cursor
    x, y = c.batch()
    t = c.trainer
    with c.at_cursor():
        w = t.net.w[cmd.layer - 1]
        w0 = float(w[cmd.to, cmd.from_])
        grad = float(t.gradients(x, y)[3][cmd.layer - 1][cmd.to, cmd.from_])
        cost = t.cost(x, y)
        ws = np.linspace(w0 - cmd.span, w0 + cmd.span, cmd.points)
        costs = []
        try:
            for v in ws:
                w[cmd.to, cmd.from_] = v
                costs.append(t.cost(x, y))
        finally:
            w[cmd.to, cmd.from_] = w0
    s.publish(
        {
            "type": "slice",
            "step": c.step_shown(),
            "layer": cmd.layer,
            "to": cmd.to,
            "from": cmd.from_,
            "w": w0,
            "cost": cost,
            "grad": grad,
            "ws": ws,
            "costs": costs,
        }
    )


async def select(s: "Session", cmd: p.Select) -> None:
    m = len(s.cursor.batch()[0])
    if cmd.example >= m:
        raise ProtocolError("out_of_range", f"select.example: the batch has {m} examples (0–{m - 1})", "select")
    s.cursor.selected = cmd.example
    s.publish(s.state())


# --- checks ------------------------------------------------------------------------------------
def check_layer(s: "Session", layer: int, kind: str) -> None:
    depth = s.cursor.trainer.net.depth
    if layer > depth:
        raise ProtocolError("out_of_range", f"{kind}.layer: the network has {depth} weight layers (1–{depth})", kind)


def check_weight(s: "Session", layer: int, to: int, frm: int, kind: str) -> None:
    check_layer(s, layer, kind)
    n = s.cursor.trainer.net.layers
    if to >= n[layer]:
        raise ProtocolError("out_of_range", f"{kind}.to: layer {layer} has {n[layer]} units (0–{n[layer] - 1})", kind)
    if frm >= n[layer - 1]:
        raise ProtocolError(
            "out_of_range", f"{kind}.from: layer {layer - 1} has {n[layer - 1]} units (0–{n[layer - 1] - 1})", kind
        )


Handler = Callable[["Session", Any], Awaitable[None]]
HANDLERS: dict[str, Handler] = {
    "load": load,
    "reset": reset,
    "next": next_,
    "step": step,
    "epoch": epoch,
    "play": play_,
    "pause": pause,
    "seek": seek,
    "set": set_,
    "set_weight": set_weight,
    "set_bias": set_bias,
    "gradcheck": gradcheck_,
    "slice": slice_,
    "select": select,
}
