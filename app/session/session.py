"""One training session: the phase cursor, history and seek, play modes, and its subscribers."""

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from app import protocol as p
from app import scenario as sc
from app.nn.gradcheck import gradcheck
from app.protocol import ProtocolError, encode
from app.session import maps
from app.session.history import History, Snapshot
from app.session.outbox import Message, Outbox

Event = dict[str, Any]
CURVE_ROWS = 1000  # rows of the learning curve sent in `state`
OUTPUT_ROWS = 256  # training examples whose outputs are sent (the examples table, a 1-D fit)
SMALL_SET = 64  # a plane's maps show its outputs; only a set this small gets a table too
MAX_GRADCHECK_PARAMS = 5000  # two cost evaluations per parameter


# overflow is expected when training diverges; it is caught by finite checks, not warnings
def quiet() -> np.errstate:
    return np.errstate(all="ignore")


@dataclass
class Options:
    """The limits a session works within (from the web settings)."""

    history_steps: int = 10_000
    history_bytes: int = 64 * 2**20
    slice_seconds: float = 0.001
    outbox_limit: int = 512
    frame_rate: int = 30


class Diverged(Exception):
    """A step would make a weight NaN or inf."""


def finite(params: list[np.ndarray]) -> bool:
    return all(bool(np.isfinite(x).all()) for x in params)


class Session:
    """A run that many subscribers follow; commands change it, events tell them how."""

    def __init__(self, sid: str, doc: dict[str, Any], options: Options, scheduler: Any) -> None:
        self.id, self.options, self.scheduler = sid, options, scheduler
        self.subscribers: set[Outbox] = set()
        self.playing: str | None = None
        self.paused_reason: str | None = None
        self.selected = 0
        self.fps = 30
        self.speed = 4.0
        self.lock = asyncio.Lock()
        self.interrupt = False  # set by `pause` to stop a long command at its next slice
        self.last_seen = time.monotonic()
        self._animation: asyncio.Task[None] | None = None
        self._next_frame = 0.0
        self.map_seq = 0
        self._maps_due = False
        self._build(sc.parse(doc))

    # --- building ------------------------------------------------------------------------
    def _build(self, s: sc.Scenario) -> None:
        built = sc.build(s)  # may raise; nothing is replaced until it succeeds
        self.scenario, self.trainer, self.task, self.extent = s, built.trainer, built.task, built.extent
        self.points = maps.grid(self.extent) if self.extent else None
        self.tabled = self.points is None or len(self.trainer.x) <= SMALL_SET  # outputs are sent
        self.pending: list[Event] | None = None  # the step in progress, revealed by `next`
        self.cursor = 0
        self.pre: Snapshot | None = None  # the state before the step in progress
        floats = sum(x.size for x in self.trainer.net.params) * (3 if s.optimizer.type != "sgd" else 1)
        per_step = max(1, floats * 8 * self.options.history_steps // self.options.history_bytes)
        self.history = History(self.options.history_steps, max(10, per_step))
        self.history.save(self.snapshot())
        self.curve: list[list[float | None]] = []
        self.initial_epoch = self.trainer.epoch_event()
        self._add_curve(self.initial_epoch)
        self.selected = 0
        self.paused_reason = None

    def config(self) -> dict[str, Any]:
        s = self.scenario
        return {"optimizer": s.optimizer, "regularization": s.regularization, "batch_size": s.batch_size}

    def snapshot(self) -> Snapshot:
        snap = self.trainer.snapshot()
        snap["config"] = self.config()
        return snap

    def _restore(self, snap: Snapshot) -> None:
        cfg = snap["config"]
        if cfg != self.config():
            self._configure(self.scenario.model_copy(update=cfg))
        self.trainer.restore(snap)

    def _configure(self, s: sc.Scenario) -> None:
        """Apply hyper-parameters of `s` to the live trainer, keeping its weights."""
        t, old = self.trainer, self.scenario
        if s.optimizer != old.optimizer:
            if s.optimizer.model_dump(exclude={"learning_rate"}) == old.optimizer.model_dump(exclude={"learning_rate"}):
                t.optimizer.learning_rate = s.optimizer.learning_rate  # keep momentum/Adam state
            else:
                t.optimizer = sc.make_optimizer(s.optimizer)
        t.reg = sc.Regularization(s.regularization.type, s.regularization.rate)
        t.batch_size = s.batch_size
        self.scenario = s

    # --- subscribers ---------------------------------------------------------------------
    def attach(self, box: Outbox) -> None:
        self.subscribers.add(box)
        for msg in self.welcome():
            box.put(msg)

    def detach(self, box: Outbox) -> None:
        self.subscribers.discard(box)
        box.close()
        self.last_seen = time.monotonic()
        if not self.subscribers and self.playing:
            # nobody is watching: don't spend a core on it until someone reconnects
            self.stop()
            self.paused_reason = "Paused while no one was connected."

    def welcome(self) -> list[Message]:
        """What a new (or resynchronized) subscriber needs: state, dataset, curve start, maps."""
        out = [Message(encode(self.state())), Message(encode(self.dataset())), Message(encode(self.initial_epoch))]
        if self.tabled:
            out.append(Message(encode(self.outputs())))
        if self.points is not None:
            out.append(Message(self._maps(), True))
        return out

    def publish(self, *events: Event) -> None:
        msgs = [Message(encode(e)) for e in events]
        self._put(msgs)

    def _put(self, msgs: list[Message]) -> None:
        for box in list(self.subscribers):
            for msg in msgs:
                box.put(msg)
            if box.resync:  # it fell behind: start it again from the whole state
                box.resync = False
                box.queue.clear()
                for msg in self.welcome():
                    box.put(msg)

    def publish_maps(self) -> None:
        """Send the outputs and maps soon after, so a step's events leave before they are computed."""
        if not self._maps_due:
            self._maps_due = True
            asyncio.get_running_loop().call_soon(self._send_maps)

    def _send_maps(self) -> None:
        self._maps_due = False
        with quiet():
            msgs = [Message(encode(self.outputs()))] if self.tabled else []
            if self.points is not None:
                msgs.append(Message(self._maps(), True))
            self._put(msgs)

    def outputs(self) -> Event:
        """The network's outputs on the first OUTPUT_ROWS training examples, at the cursor."""
        t = self.trainer
        with self._at_cursor():
            y = t.net.predict(t.x[:OUTPUT_ROWS])
        return {"type": "outputs", "step": self._cursor_step(), "y": y}

    def _maps(self) -> bytes:
        self.map_seq += 1
        return maps.pack(self.trainer.net, self.points, self.map_seq, self.trainer.step_count)  # type: ignore[arg-type]

    # --- views of the state --------------------------------------------------------------
    def phase(self) -> dict[str, Any]:
        if self.pending is None:
            return {"event": "batch", "layer": None}
        e = self.pending[self.cursor]
        return {"event": e["type"], "layer": e.get("layer")}

    def state(self) -> Event:
        t = self.trainer
        params = self.pre["params"] if self.pre is not None else t.net.params
        step, epoch = (
            (self.pre["step"], self.pre["epochs_done"]) if self.pre is not None else (t.step_count, t.epochs_done)
        )
        return {
            "type": "state",
            "session": self.id,
            "step": step,
            "epoch": epoch,
            "phase": self.phase(),
            "scenario": self.scenario.model_dump(mode="json", exclude_none=True),
            "weights": params[0::2],
            "biases": params[1::2],
            "history": {"first": self.history.first, "last": self.history.last},
            "playing": self.playing,
            "paused_reason": self.paused_reason,
            "selected": self.selected,
            "task": self.task,
            "curve": self._thin_curve(),
        }

    def dataset(self) -> Event:
        t = self.trainer
        test = None if t.x_test is None else {"x": t.x_test, "y": t.y_test}
        return {"type": "dataset", "train": {"x": t.x, "y": t.y}, "test": test, "extent": self.extent}

    def _thin_curve(self) -> list[list[float | None]]:
        c = self.curve
        if len(c) <= CURVE_ROWS:
            return c
        idx = np.linspace(0, len(c) - 1, CURVE_ROWS).round().astype(int)
        return [c[i] for i in idx]

    def _add_curve(self, e: Event) -> None:
        row = [e["step"], e["epoch"], e["train_loss"], e["test_loss"], e["train_accuracy"], e["test_accuracy"]]
        if self.curve and self.curve[-1][0] == row[0]:
            self.curve[-1] = row
        else:
            self.curve.append(row)
        if len(self.curve) > 4 * CURVE_ROWS:  # keep it bounded: drop every other old row
            self.curve = self.curve[:-1:2] + self.curve[-1:]

    # --- commands --------------------------------------------------------------------------
    async def handle(self, cmd: Any) -> None:
        """Carry out one command; ProtocolError leaves the session unchanged."""
        self.last_seen = time.monotonic()
        try:
            with quiet():
                await getattr(self, "on_" + cmd.type)(cmd)
        except Diverged as e:
            self.fail(str(e))
            self.publish_maps()

    async def on_load(self, cmd: p.Load) -> None:
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
        s = _parse(doc, "invalid_scenario", "load", "scenario")
        self.stop()
        self._build(s)
        self._put(self.welcome())

    async def on_reset(self, cmd: p.Reset) -> None:
        self.stop()
        self._build(self.scenario)
        self._put(self.welcome())

    async def on_next(self, cmd: p.Next) -> None:
        self.stop()
        self.publish(*self.next_events())
        if self.pending is None:
            self.publish_maps()

    async def on_step(self, cmd: p.Step) -> None:
        self.stop()
        events = self._finish() if self.pending is not None else self._traced_step()
        if cmd.count > 1:
            # the last step is sent whole; of the ones before it, only the epochs they end
            epochs: list[Event] = []
            for i in range(cmd.count - 1):
                if self.interrupt:
                    break
                epochs += [e for e in events if e["type"] == "epoch"]
                if i < cmd.count - 2:
                    end = self._fast_step()
                    events = [end] if end else []
                else:
                    events = self._traced_step()
                if i % 64 == 63:
                    await asyncio.sleep(0)  # let other sessions and connections run
            self.interrupt = False
            events = [*epochs, *events, self.state()]
        self.publish(*events)
        self.publish_maps()

    async def on_epoch(self, cmd: p.Epoch) -> None:
        self.stop()
        start = self.trainer.epochs_done
        end: Event | None = None
        if self.pending is not None:
            end = next((e for e in self._finish() if e["type"] == "epoch"), None)
        n = 0
        while end is None and self.trainer.epochs_done == start and not self.interrupt:
            end = self._fast_step()
            n += 1
            if n % 64 == 0:
                await asyncio.sleep(0)
        self.interrupt = False
        self.publish(*([end] if end else []), self.state())
        self.publish_maps()

    async def on_play(self, cmd: p.Play) -> None:
        self.stop()
        self.paused_reason = None
        if cmd.mode == "animate":
            self.speed = cmd.speed
            self.playing = "animate"
            self._animation = asyncio.get_running_loop().create_task(self._animate())
        else:
            if self.pending is not None:
                self._finish()
            self.fps = cmd.fps or self.options.frame_rate
            self.playing = "train"
            self._next_frame = time.perf_counter()
            self.scheduler.add(self)
        self.publish(self.state())

    async def on_pause(self, cmd: p.Pause) -> None:
        self.stop()
        self.publish(self.state())
        self.publish_maps()

    async def on_seek(self, cmd: p.Seek) -> None:
        h = self.history
        if not h.first <= cmd.step <= h.last:
            raise ProtocolError(
                "out_of_history", f"seek.step: step {cmd.step} is outside the history ({h.first}–{h.last})", "seek"
            )
        self.stop()
        self._abort()
        self._goto(cmd.step)
        self.publish(self.state())
        self.publish_maps()

    async def on_set(self, cmd: p.Set) -> None:
        update: dict[str, Any] = {}
        if cmd.optimizer is not None:
            update["optimizer"] = cmd.optimizer.model_dump()
        if cmd.learning_rate is not None:
            update["optimizer"] = {**self.scenario.optimizer.model_dump(), **update.get("optimizer", {})}
            update["optimizer"]["learning_rate"] = cmd.learning_rate
        if cmd.regularization is not None:
            update["regularization"] = cmd.regularization.model_dump()
        if cmd.batch_size is not None:
            update["batch_size"] = cmd.batch_size
        doc = {**self.scenario.model_dump(mode="json", exclude_none=True), **update}
        s = _parse(doc, "invalid_command", "set", "set")
        self._abort()
        self._configure(s)
        self._edited()
        self.publish(self.state())

    async def on_set_weight(self, cmd: p.SetWeight) -> None:
        self._check_weight(cmd.layer, cmd.to, cmd.from_, "set_weight")
        self._abort()
        self.trainer.net.w[cmd.layer - 1][cmd.to, cmd.from_] = cmd.value
        self._edited()
        self.publish(self.state())
        self.publish_maps()

    async def on_set_bias(self, cmd: p.SetBias) -> None:
        self._check_layer(cmd.layer, "set_bias")
        n = self.trainer.net.layers[cmd.layer]
        if cmd.unit >= n:
            raise ProtocolError(
                "out_of_range", f"set_bias.unit: layer {cmd.layer} has {n} units (0–{n - 1})", "set_bias"
            )
        self._abort()
        self.trainer.net.b[cmd.layer - 1][cmd.unit] = cmd.value
        self._edited()
        self.publish(self.state())
        self.publish_maps()

    async def on_gradcheck(self, cmd: p.Gradcheck) -> None:
        n = sum(x.size for x in self.trainer.net.params)
        if n > MAX_GRADCHECK_PARAMS:
            raise ProtocolError(
                "out_of_range",
                f"gradcheck: the network has {n} parameters; at most {MAX_GRADCHECK_PARAMS}",
                "gradcheck",
            )
        x, y = self._cursor_batch()
        eps = 1e-5
        with self._at_cursor():
            layers = gradcheck(self.trainer, x, y, eps)
        worst = max(float(max(c["rel_error_w"].max(), c["rel_error_b"].max())) for c in layers)
        self.publish(
            {"type": "gradcheck", "step": self._cursor_step(), "epsilon": eps, "max_rel_error": worst, "layers": layers}
        )

    async def on_slice(self, cmd: p.Slice) -> None:
        self._check_weight(cmd.layer, cmd.to, cmd.from_, "slice")
        x, y = self._cursor_batch()
        t = self.trainer
        with self._at_cursor():
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
        self.publish(
            {
                "type": "slice",
                "step": self._cursor_step(),
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

    async def on_select(self, cmd: p.Select) -> None:
        m = len(self._cursor_batch()[0])
        if cmd.example >= m:
            raise ProtocolError("out_of_range", f"select.example: the batch has {m} examples (0–{m - 1})", "select")
        self.selected = cmd.example
        self.publish(self.state())

    # --- checks ------------------------------------------------------------------------------
    def _check_layer(self, layer: int, kind: str) -> None:
        depth = self.trainer.net.depth
        if layer > depth:
            raise ProtocolError(
                "out_of_range", f"{kind}.layer: the network has {depth} weight layers (1–{depth})", kind
            )

    def _check_weight(self, layer: int, to: int, frm: int, kind: str) -> None:
        self._check_layer(layer, kind)
        n = self.trainer.net.layers
        if to >= n[layer]:
            raise ProtocolError(
                "out_of_range", f"{kind}.to: layer {layer} has {n[layer]} units (0–{n[layer] - 1})", kind
            )
        if frm >= n[layer - 1]:
            raise ProtocolError(
                "out_of_range", f"{kind}.from: layer {layer - 1} has {n[layer - 1]} units (0–{n[layer - 1] - 1})", kind
            )

    # --- the phase cursor ----------------------------------------------------------------------
    def _cursor_step(self) -> int:
        return self.pre["step"] if self.pre is not None else self.trainer.step_count

    def _cursor_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The batch of the step at the cursor: in progress, or the next one."""
        if self.pending is not None:
            b = self.pending[0]
            return b["x"], b["y"]
        idx = self.trainer.next_indices()
        return self.trainer.x[idx], self.trainer.y[idx]

    def _at_cursor(self) -> "_AtCursor":
        return _AtCursor(self)

    def _begin(self) -> list[Event]:
        """Compute the next step with its events; a diverging step is undone."""
        t = self.trainer
        self._branch()
        pre = self.snapshot()
        events = t.step(trace=True)
        loss = next(e["loss"] for e in events if e["type"] == "output_error")
        if not (math.isfinite(loss) and t.net.finite()):
            t.restore(pre)
            raise Diverged(self._diverged_text(pre["step"] + 1))
        self.pre = pre
        return events

    def _diverged_text(self, step: int) -> str:
        lr = self.scenario.optimizer.learning_rate
        return (
            f"Training diverged: step {step} makes the loss or a weight NaN or infinite. "
            f"Paused at step {step - 1}, the last finite one. Try a learning rate below {lr:g}."
        )

    def _complete(self, events: list[Event]) -> None:
        t = self.trainer
        self.pending, self.pre, self.cursor = None, None, 0
        if self.history.due(t.step_count):
            self.history.save(self.snapshot())
        else:
            self.history.reached(t.step_count)
        for e in events:
            if e["type"] == "epoch":
                self._add_curve(e)

    def next_events(self) -> list[Event]:
        """Reveal the next event of the step (with `epoch` after the step's last update)."""
        if self.pending is None:
            self.pending, self.cursor = self._begin(), 0
        events = self.pending
        out = [events[self.cursor]]
        self.cursor += 1
        if self.cursor < len(events) and events[self.cursor]["type"] == "epoch":
            out.append(events[self.cursor])
            self.cursor += 1
        if self.cursor == len(events):
            self._complete(events)
        return out

    def _finish(self) -> list[Event]:
        """The rest of the step in progress."""
        assert self.pending is not None
        events = self.pending
        rest = events[self.cursor :]
        self._complete(events)
        return rest

    def _traced_step(self) -> list[Event]:
        events = self._begin()
        self._complete(events)
        return events

    def _fast_step(self) -> Event | None:
        """An untraced step; its epoch event when it ends one."""
        t = self.trainer
        self._branch()
        epochs = t.epochs_done
        pre_step = t.step_count
        t.step()
        if not t.net.finite():
            self._rewind(pre_step)
        self._complete([])
        if t.epochs_done != epochs:
            e = t.epoch_event()
            self._add_curve(e)
            return e
        return None

    def _branch(self, always: bool = False) -> None:
        """Stepping on behind the last step (after a seek) or editing: forget the future."""
        s = self.trainer.step_count
        if always or s < self.history.last:
            self.history.truncate(s)
            self.curve = [r for r in self.curve if r[0] is not None and r[0] <= s]

    def _abort(self) -> None:
        """Undo the step in progress (its events were only shown)."""
        if self.pre is not None:
            self._restore(self.pre)
        self.pending, self.pre, self.cursor = None, None, 0

    def _edited(self) -> None:
        """An edit is a new branch: the future is discarded and the edit kept as a checkpoint."""
        self._branch(always=True)
        self.history.save(self.snapshot())

    def _goto(self, step: int) -> None:
        """Bring back step `step` exactly: its checkpoint, then the steps after it again."""
        self._restore(self.history.base(step))
        while self.trainer.step_count < step:
            self.trainer.step()

    def _rewind(self, step: int) -> None:
        """Go back to the last finite step at or before `step` and pause there, saying why."""
        snap = self.history.base(step)
        while not finite(snap["params"]):
            prev = self.history.before(snap["step"])
            if prev is None:
                break
            snap = prev
        self._restore(snap)
        while self.trainer.step_count < step:
            keep = self.snapshot()
            self.trainer.step()
            if not self.trainer.net.finite():
                self.trainer.restore(keep)
                break
        self._branch(always=True)
        raise Diverged(self._diverged_text(self.trainer.step_count + 1))

    # --- play ------------------------------------------------------------------------------
    def stop(self) -> None:
        if self.playing == "train":
            self.scheduler.remove(self)
        if self._animation is not None:
            self._animation.cancel()
            self._animation = None
        self.playing = None

    async def _animate(self) -> None:
        try:
            while self.playing == "animate":
                try:
                    with quiet():
                        self.publish(*self.next_events())
                except Diverged as e:
                    self.playing = None
                    self.paused_reason = str(e)
                    self.publish(self.state())
                    break
                if self.pending is None:
                    self.publish_maps()
                await asyncio.sleep(1.0 / self.speed)
        finally:
            if self._animation is asyncio.current_task():
                self._animation = None

    def train_slice(self) -> None:
        """Train for about one slice, then send a frame when one is due (called by the scheduler)."""
        with quiet():
            self._train_slice()

    def _train_slice(self) -> None:
        t = self.trainer
        history = self.history
        end = time.perf_counter() + self.options.slice_seconds
        self._branch()
        while True:
            t.step()
            s = t.step_count
            if s % history.every == 0:
                history.save(self.snapshot())
            if time.perf_counter() >= end:
                break
        history.reached(t.step_count)
        if not t.net.finite():
            try:
                self._rewind(t.step_count)
            except Diverged as e:
                self.fail(str(e))
                self.publish_maps()
            return
        now = time.perf_counter()
        if now >= self._next_frame:
            # keep the cadence: one period after the last deadline, not after this (late) slice,
            # unless far behind; with many sessions a round of slices can outlast a period
            period = 1.0 / self.fps
            self._next_frame = max(self._next_frame + period, now - period / 2)
            self.frame()

    def fail(self, reason: str) -> None:
        """Stop playing for a reason the user should see."""
        self.stop()
        self.paused_reason = reason
        self.publish(self.state())

    def frame(self) -> None:
        t = self.trainer
        tr_loss, tr_acc = t.evaluate(t.x, t.y)
        te_loss, te_acc = t.evaluate(t.x_test, t.y_test)
        row = {
            "step": t.step_count,
            "epoch": t.epochs_done,
            "train_loss": tr_loss,
            "test_loss": te_loss,
            "train_accuracy": tr_acc,
            "test_accuracy": te_acc,
        }
        self._add_curve(row)
        seq = None
        msgs = []
        if self.points is not None:
            data = self._maps()
            seq = self.map_seq
            msgs.append(Message(data, True))
        idx = t.next_indices()
        x = t.x[idx[min(self.selected, len(idx) - 1)]][None, :]  # the highlighted example
        event = {
            "type": "frame",
            **row,
            "weights": t.net.w,
            "biases": t.net.b,
            "grad_norms": [float(np.linalg.norm(g)) for g in t.last_grad_w],
            "maps": seq,
            "a": [a[0] for a in t.net.forward(x)[1]],
            "outputs": t.net.predict(t.x[:OUTPUT_ROWS]) if self.tabled else None,
        }
        msgs.insert(0, Message(encode(event)))
        for box in list(self.subscribers):
            box.put_frame(msgs)


def _parse(doc: Any, code: str, kind: str, where: str) -> sc.Scenario:
    """A scenario, or the ProtocolError that names what is wrong with it."""
    try:
        return sc.parse(doc)
    except sc.ScenarioError as e:
        raise ProtocolError(code, f"{where}: {e}", kind) from None


class _AtCursor:
    """Temporarily put the parameters back to the cursor's (before a step in progress)."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.saved: Snapshot | None = None

    def __enter__(self) -> None:
        if self.s.pre is not None:
            self.saved = self.s.trainer.snapshot()
            self.s.trainer.restore(self.s.pre)

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            self.s.trainer.restore(self.saved)
