"""One handler per command. Each checks everything before it changes anything, so a
ProtocolError leaves the session as it was."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from app import protocol as p
from app import scenario as sc
from app.nn.gradcheck import gradcheck
from app.protocol import ProtocolError
from app.session import branch, dataedit, debugging, healthfeed, memory, offload, play, poll, work
from app.session.cursor import Event
from app.session.work import Cancelled, Progress

if TYPE_CHECKING:
    from app.session.session import Session

MAX_GRADCHECK_PARAMS = 5000  # two cost evaluations per parameter
MAX_CHECK_FLOPS = 20_000_000_000  # multiply-adds of one gradcheck or slice: about 10 s of a core
YIELD_EVERY = 0.002  # seconds of fast steps between turns of the event loop


def parse_scenario(doc: Any, code: str, kind: str, where: str) -> sc.Scenario:
    """A scenario, or the ProtocolError that names what is wrong with it."""
    try:
        return sc.parse(doc)
    except sc.ScenarioError as e:
        raise ProtocolError(code, f"{where}: {e}", kind) from None


async def load(s: "Session", cmd: p.Load) -> None:
    memory.check(s.options.memory_bytes, "load")
    if cmd.preset is not None:
        try:
            doc = sc.preset(cmd.preset)
        except KeyError:
            names = ", ".join(sc.preset_names())
            raise ProtocolError(
                "unknown_preset", f"load.preset: no preset {cmd.preset!r}; one of {names}", "load"
            ) from None
    elif cmd.ref is not None:
        if cmd._stored is None:
            raise ProtocolError("unknown_ref", f"load.ref: no stored scenario {cmd.ref!r}", "load")
        s.install(await offload.built(cmd._stored, s.options))  # checked when it was uploaded
        return
    else:
        doc = cmd.scenario  # type: ignore[assignment]
        data = doc.get("data")
        if isinstance(data, dict) and data.get("omitted") is True:  # as `state` summed it up: this run's data
            doc = {**doc, "data": s.scenario.data.model_dump(exclude_none=True)}
    # a scenario of 10,000 examples takes a while to check and build: off the loop
    rows = _rows(doc)
    scenario = await work.run(parse_scenario, doc, "invalid_scenario", "load", "scenario", flops=rows * 1000)
    s.install(await offload.built(scenario, s.options))


def _rows(doc: Any) -> int:
    data = doc.get("data") if isinstance(doc, dict) else None
    if isinstance(data, dict) and isinstance(data.get("train"), dict):
        parts = (data["train"], data.get("test"))
        return sum(len(p["x"]) for p in parts if isinstance(p, dict) and isinstance(p.get("x"), list | np.ndarray))
    return int(data.get("samples", 500)) if isinstance(data, dict) and isinstance(data.get("samples"), int) else 0


async def reset(s: "Session", cmd: p.Reset) -> None:
    s.install(await offload.built(s.scenario, s.options))


async def next_(s: "Session", cmd: p.Next) -> None:
    moved(s)
    c = s.cursor
    flops = c.step_flops() if c.pending is None else 0
    if c.pending is None:
        c.pending, c.index = await offload.begin(c), 0
    await s.publish_heavy(c.next_events(), flops)
    if s.cursor.pending is None:
        await stepped(s)
        s.publish_maps()


def moved(s: "Session") -> None:
    """Before the user steps the run on (step, next, epoch): it stops playing, and why it last
    stopped no longer describes where it is (a new hit or divergence sets it again)."""
    s.stop()
    if s.paused_reason is not None:
        s.paused_reason = None
        s.publish(s.state())  # a single step or `next` sends no state of its own


async def stepped(s: "Session") -> None:
    """After stepping: the health of the run, and the pause a breakpoint hit asks for."""
    s.publish(await healthfeed.computed(s.cursor))
    hit = s.cursor.take_hit()
    if hit is not None:
        s.fail(hit)


async def step(s: "Session", cmd: p.Step) -> None:
    moved(s)
    c = s.cursor
    flops = c.step_flops()
    events = c.finish() if c.pending is not None else await offload.traced_step(c)
    if cmd.count > 1 and c.hit is None:
        # the last step is sent whole; of the ones before it, the last epoch they ended (the
        # state's curve has them all), so a long step's answer never outgrows an outbox
        last_epoch = next((e for e in events if e["type"] == "epoch"), None)
        progress = Progress("step", s.publish, lambda: s.interrupt)
        turn, good = time.perf_counter(), c.trainer.snapshot()
        try:
            done = 1
            while done < cmd.count:
                progress.report(done, cmd.count)
                if done < cmd.count - 1:
                    n, end, good = await offload.fast_steps(c, cmd.count - 1 - done, good)
                    done += n
                    last_epoch = end or last_epoch
                    events = []
                else:
                    good = await offload.check(c, good)  # the unchecked steps, before the traced one
                    events = await offload.traced_step(c)
                    done += 1
                    if any(e["type"] == "epoch" for e in events):
                        last_epoch = None  # the step's own events carry it
                if c.hit is not None:
                    break
                if time.perf_counter() - turn > YIELD_EVERY:
                    good = await offload.check(c, good)
                    await asyncio.sleep(0)  # let other sessions and connections run
                    turn = time.perf_counter()
        except Cancelled:
            events = []
        await offload.check(c, good)
        s.interrupt = False
        events = [*([last_epoch] if last_epoch else []), *events, s.state()]
    await s.publish_heavy(events, flops)
    await stepped(s)
    s.publish_maps()


async def epoch(s: "Session", cmd: p.Epoch) -> None:
    moved(s)
    c = s.cursor
    start = c.trainer.epochs_done
    end: Event | None = None
    if c.pending is not None:
        end = next((e for e in c.finish() if e["type"] == "epoch"), None)
    per_epoch = -(-len(c.trainer.x) // c.scenario.batch_size)
    progress = Progress("epoch", s.publish, lambda: s.interrupt)
    turn, n, good = time.perf_counter(), 0, c.trainer.snapshot()
    try:
        while end is None and c.trainer.epochs_done == start:
            progress.report(n + 1, per_epoch)
            t = c.trainer
            left = -(-(len(t.x) - t.offset) // t.batch_size)  # steps to this epoch's end
            taken, end, good = await offload.fast_steps(c, left, good)
            n += taken
            if c.hit is not None:
                break
            if time.perf_counter() - turn > YIELD_EVERY:
                good = await offload.check(c, good)
                await asyncio.sleep(0)
                turn = time.perf_counter()
    except Cancelled:
        pass
    await offload.check(c, good)
    s.interrupt = False
    s.publish(*([end] if end else []), s.state())
    await stepped(s)
    s.publish_maps()


async def play_(s: "Session", cmd: p.Play) -> None:
    s.stop()
    s.paused_reason = None
    if cmd.mode == "animate":
        play.start_animation(s, cmd.speed)
    else:
        play.start_training(s, cmd.fps or s.options.frame_rate, cmd.steps_per_second)
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
    s.stop()  # why it paused stays: a person seeks back to look at the steps before it
    data = s.cursor.data
    s.cursor.abort()
    await offload.goto(s.cursor, cmd.step)
    health = await healthfeed.computed(s.cursor)
    s.publish(s.state(), health)
    dataedit.published_if_changed(s, data)
    s.publish_maps()


def reconfigured(scenario: sc.Scenario, update: dict[str, Any]) -> sc.Scenario:
    """The scenario with `update` applied, checked as a whole (a large one in a worker thread)."""
    doc = {**scenario.model_dump(exclude_none=True), **update}  # data rows stay arrays: no re-checking lists
    return parse_scenario(doc, "invalid_command", "set", "set")


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
    new = await work.run(reconfigured, c.scenario, update, flops=len(c.trainer.x) * 1000)
    c.abort()
    c.configure(new)
    await offload.edited(c)
    s.publish(s.state())


async def set_weight(s: "Session", cmd: p.SetWeight) -> None:
    check_weight(s, cmd.layer, cmd.to, cmd.from_, "set_weight")
    c = s.cursor
    c.abort()
    c.trainer.net.w[cmd.layer - 1][cmd.to, cmd.from_] = cmd.value
    await offload.edited(c)
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
    await offload.edited(c)
    s.publish(s.state())
    s.publish_maps()


def check_work(s: "Session", kind: str, flops: int, hint: str) -> None:
    if flops > MAX_CHECK_FLOPS:
        raise ProtocolError(
            "too_much_work",
            f"{kind}: this would take about {flops:.2g} multiply-adds, more than the {MAX_CHECK_FLOPS:.0e} "
            f"one command may use; {hint}",
            kind,
        )


async def gradcheck_(s: "Session", cmd: p.Gradcheck) -> None:
    c = s.cursor
    n = sum(x.size for x in c.trainer.net.params)
    if n > MAX_GRADCHECK_PARAMS:
        raise ProtocolError(
            "out_of_range", f"gradcheck: the network has {n} parameters; at most {MAX_GRADCHECK_PARAMS}", "gradcheck"
        )
    t, x, y, at = await debugging.at_step(s, cmd.step, "gradcheck")  # beside the live run, which may go on training
    flops = 2 * n * work.forward_flops(c.trainer.net.layers, len(x))
    check_work(s, "gradcheck", flops, "use a smaller batch or network")
    eps = 1e-5
    progress = Progress("gradcheck", s.publish, lambda: s.interrupt)
    try:
        layers = await work.checked(gradcheck, t, x, y, eps, flops=flops, progress=progress)
    except Cancelled:
        s.interrupt = False
        return
    worst = max(float(max(r["rel_error_w"].max(), r["rel_error_b"].max())) for r in layers)
    s.publish({"type": "gradcheck", "step": at, "epsilon": eps, "max_rel_error": worst, "layers": layers})


def cost_slice(t: Any, x: Any, y: Any, cmd: p.Slice, tick: Callable[[int, int], None]) -> dict[str, Any]:
    """The batch cost along one weight, on a trainer of its own."""
    w = t.net.w[cmd.layer - 1]
    w0 = float(w[cmd.to, cmd.from_])
    grad = float(t.gradients(x, y)[3][cmd.layer - 1][cmd.to, cmd.from_])
    cost = t.cost(x, y)
    ws = np.linspace(w0 - cmd.span, w0 + cmd.span, cmd.points)
    costs = []
    for k, v in enumerate(ws):
        w[cmd.to, cmd.from_] = v
        costs.append(t.cost(x, y))
        tick(k + 1, cmd.points)
    w[cmd.to, cmd.from_] = w0
    return {"w": w0, "cost": cost, "grad": grad, "ws": ws, "costs": costs}


async def slice_(s: "Session", cmd: p.Slice) -> None:
    check_weight(s, cmd.layer, cmd.to, cmd.from_, "slice")
    c = s.cursor
    t, x, y, at = await debugging.at_step(s, cmd.step, "slice")
    flops = (cmd.points + 3) * work.forward_flops(c.trainer.net.layers, len(x))
    check_work(s, "slice", flops, "use fewer points or a smaller batch")
    progress = Progress("slice", s.publish, lambda: s.interrupt)
    try:
        out = await work.checked(cost_slice, t, x, y, cmd, flops=flops, progress=progress)
    except Cancelled:
        s.interrupt = False
        return
    s.publish(
        {
            "type": "slice",
            "step": at,
            "layer": cmd.layer,
            "to": cmd.to,
            "from": cmd.from_,
            **out,
        }
    )


async def select(s: "Session", cmd: p.Select) -> None:
    m = len(s.cursor.batch()[0])
    if cmd.example >= m:
        raise ProtocolError("out_of_range", f"select.example: the batch has {m} examples (0–{m - 1})", "select")
    rows = work.trace_rows(s.cursor.trainer.net.layers)
    if cmd.example >= rows:
        raise ProtocolError(
            "out_of_range",
            f"select.example: a traced step of this network shows its first {rows} examples (0–{rows - 1})",
            "select",
        )
    s.cursor.selected = cmd.example
    s.publish(s.state())


async def branch_(s: "Session", cmd: p.Branch) -> None:
    c = s.cursor
    flops = (c.step_shown() - c.history.base(cmd.from_step)["step"] + 1) * c.step_flops()
    made = await work.run(branch.make, s, cmd, flops=flops)  # ProtocolError: nothing changed
    s.stop()
    s.branch = made
    await branch.follow(s, force=True)


async def branch_keep(s: "Session", cmd: p.BranchKeep) -> None:
    await branch.keep(s, cmd.branch)


async def branch_drop(s: "Session", cmd: p.BranchDrop) -> None:
    await branch.keep(s, "b" if cmd.branch == "a" else "a")


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
    "set_data": dataedit.set_data,
    "gradcheck": gradcheck_,
    "slice": slice_,
    "select": select,
    "ask": poll.ask,
    "answer": poll.answer,
    "reveal": poll.reveal,
    "branch": branch_,
    "branch_keep": branch_keep,
    "branch_drop": branch_drop,
    "breakpoints": debugging.breakpoints,
    "graph": debugging.graph_,
}
