"""Where a run stands: its trainer, the step in progress phase by phase, history and seek."""

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from app import scenario as sc
from app.nn import guard
from app.session import dataedit, maps, work
from app.session.breakpoints import Breakpoints, Paused, Reason, diverged
from app.session.encoded import Encoded, dataset_event
from app.session.history import History, Snapshot
from app.session.work import cap

Event = dict[str, Any]
CURVE_ROWS = 1000  # rows of the learning curve sent in `state`
OUTPUT_ROWS = 256  # training examples whose outputs are sent (the examples table, a 1-D fit)
SMALL_SET = 64  # a plane's maps show its outputs; only a set this small gets a table too
CHECK_EVERY = 0.01  # seconds of training between divergence checks (each costs about two steps)


@dataclass
class Options:
    """The limits a session works within (from the web settings)."""

    history_steps: int = 10_000
    history_bytes: int = 64 * 2**20
    slice_seconds: float = 0.001
    outbox_limit: int = 512
    frame_rate: int = 30
    viewer_bytes_per_s: float = 40_000
    memory_bytes: int = 0  # the process's memory budget (0: none); over it, no new run is built


class Cursor:
    """A built scenario and the phase cursor inside its current step.

    Between steps `pending` is None. During a step revealed by `next`, `pending` holds the
    step's events, `index` the next one to show, and `pre` the state before the step: the
    trainer has already applied the step, but everything shown is of `pre` until it ends.
    """

    def __init__(self, s: sc.Scenario, options: Options) -> None:
        built = sc.build(s)  # may raise; the caller replaces nothing until it succeeds
        self.options = options
        self.scenario, self.trainer, self.task, self.extent = s, built.trainer, built.task, built.extent
        self.points = maps.grid(self.extent) if self.extent else None
        self.tabled = self.points is None or len(self.trainer.x) <= SMALL_SET  # outputs are sent
        self.data = dataedit.built_version(s, built)  # the data in force (set_data edits it)
        self.pending: list[Event] | None = None
        self.pending_batch: tuple[np.ndarray, np.ndarray] | None = None  # whole, though its events are capped
        self.index = 0
        self.pre: Snapshot | None = None
        floats = sum(x.size for x in self.trainer.net.params) * (3 if s.optimizer.type != "sgd" else 1)
        per_step = max(1, floats * 8 * options.history_steps // options.history_bytes)
        self.history = History(options.history_steps, max(10, per_step), options.history_bytes)
        self.history.save(self.snapshot())
        self.curve: list[list[float | None]] = []
        self.initial_epoch = self.trainer.epoch_event()
        self.add_curve(self.initial_epoch)
        self.selected = 0
        self.map_seq = 0
        self.good: Snapshot | None = None  # the last state the guard passed, while training
        self.checked_at = 0.0
        self.breakpoints = Breakpoints()
        self.breakpoints.reset(self.trainer)
        self.hit: Reason | None = None  # a breakpoint a completed step hit, for the caller to pause on
        self.encoded = Encoded()  # here, where a large run is built off the loop
        self.encoded.data_changed(s.data, self.trainer, self.extent)
        self.params_json()

    def use_data(self, d: "dataedit.DataVersion") -> None:
        """Train on data version `d` from the next batch on: an edit of the data, or a return
        across one (a seek); the weights and step stay."""
        d.apply_to(self.trainer)
        self.data, self.task, self.extent, self.points = d, d.task, d.extent, d.points
        self.tabled = self.points is None or len(d.x) <= SMALL_SET
        self.scenario = self.scenario.model_copy(update={"data": d.spec})
        self.encoded.data_changed(self.scenario.data, self.trainer, self.extent)

    def trainer_copy(self) -> Any:
        """A trainer of its own at the cursor's parameters, for work done beside the live run."""
        t = self.trainer
        shared = {id(a): a for a in (t.x, t.y, t.x_test, t.y_test) if a is not None}
        copy_ = copy.deepcopy(t, shared)
        if self.pre is not None:
            copy_.restore(self.pre)
        return copy_

    def fork(self) -> "Cursor":
        """An independent copy at exactly this state. Checkpoints and the data are never changed
        in place, so the copy shares them; the trainer (weights, optimizer state) is its own."""
        c = copy.copy(self)
        c.good = None
        t = self.trainer
        shared = {id(a): a for a in (t.x, t.y, t.x_test, t.y_test, self.points) if a is not None}
        c.trainer = copy.deepcopy(t, shared)
        c.history = self.history.copy()
        c.curve = list(self.curve)
        c.pending = None if self.pending is None else list(self.pending)
        c.breakpoints, c.hit = self.breakpoints.copy(), None
        return c

    # --- configuration -----------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        s = self.scenario
        return {"optimizer": s.optimizer, "regularization": s.regularization, "batch_size": s.batch_size}

    def snapshot(self) -> Snapshot:
        snap = self.trainer.snapshot()
        snap["config"] = self.config()
        snap["data"] = self.data  # by reference: a data version never changes
        return snap

    def restore(self, snap: Snapshot) -> None:
        self.good = None
        if snap.get("data", self.data) is not self.data:
            self.use_data(snap["data"])
        cfg = snap["config"]
        if cfg != self.config():
            self.configure(self.scenario.model_copy(update=cfg))
        self.trainer.restore(snap)

    def configure(self, s: sc.Scenario) -> None:
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

    # --- what is shown -----------------------------------------------------------------------
    def phase(self) -> dict[str, Any]:
        if self.pending is None:
            return {"event": "batch", "layer": None}
        e = self.pending[self.index]
        return {"event": e["type"], "layer": e.get("layer")}

    def shown(self) -> tuple[list[np.ndarray], int, int]:
        """Parameters, step and epoch as shown: before the step in progress, if any."""
        if self.pre is not None:
            return self.pre["params"], self.pre["step"], self.pre["epochs_done"]
        t = self.trainer
        return t.net.params, t.step_count, t.epochs_done

    def params_json(self) -> tuple[Any, Any]:
        """The shown weights and biases as `state` carries them: large ones already encoded."""
        return self.encoded.params(self.shown()[0])

    def step_shown(self) -> int:
        return self.shown()[1]

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The batch of the step at the cursor: in progress, or the next one."""
        if self.pending_batch is not None:
            return self.pending_batch
        idx = self.trainer.next_indices()
        return self.trainer.x[idx], self.trainer.y[idx]

    def at_cursor(self) -> "_AtCursor":
        """Temporarily put the parameters back to the cursor's (before a step in progress)."""
        return _AtCursor(self)

    def scenario_doc(self) -> dict[str, Any]:
        """The scenario as `state` carries it, its data already encoded."""
        return {**self.scenario.model_dump(mode="json", exclude_none=True, exclude={"data"}), "data": self.encoded.data}

    def dataset(self) -> Event:
        return dataset_event(self.trainer, self.extent)

    def dataset_message(self) -> bytes:
        """The `dataset` event, encoded once per version of the data (10,000 examples are megabytes)."""
        return self.encoded.dataset

    def outputs(self) -> Event:
        """The network's outputs on the first OUTPUT_ROWS training examples, at the cursor."""
        t = self.trainer
        with self.at_cursor():
            y = t.net.predict(t.x[:OUTPUT_ROWS])
        return {"type": "outputs", "step": self.step_shown(), "y": y}

    def step_flops(self) -> int:
        """About what one step costs: forward, backward and update over a batch."""
        return 3 * work.forward_flops(self.trainer.net.layers, self.scenario.batch_size)

    def maps_flops(self) -> int:
        return 0 if self.points is None else work.forward_flops(self.trainer.net.layers, len(self.points))

    def maps(self) -> bytes:
        return maps.pack(*self.maps_args())

    def maps_args(self) -> tuple[Any, ...]:
        """maps.pack's arguments for the next maps message (numbered on)."""
        self.map_seq += 1
        return self.trainer.net, self.points, self.map_seq, self.trainer.step_count

    def thin_curve(self) -> list[list[float | None]]:
        c = self.curve
        if len(c) <= CURVE_ROWS:
            return c
        idx = np.linspace(0, len(c) - 1, CURVE_ROWS).round().astype(int)
        return [c[i] for i in idx]

    def add_curve(self, e: Event) -> None:
        row = [e["step"], e["epoch"], e["train_loss"], e["test_loss"], e["train_accuracy"], e["test_accuracy"]]
        if self.curve and self.curve[-1][0] == row[0]:
            self.curve[-1] = row
        else:
            self.curve.append(row)
        if len(self.curve) > 4 * CURVE_ROWS:  # keep it bounded: drop every other old row
            self.curve = self.curve[:-1:2] + self.curve[-1:]

    # --- stepping ------------------------------------------------------------------------------
    def begin(self) -> list[Event]:
        """Compute the next step with its events; a diverging step is undone."""
        t = self.trainer
        self.branch()
        pre = self.snapshot()
        try:
            events = guard.step(t, trace=True)  # undone when it diverges
        except guard.Diverged as e:
            raise diverged(e, self.scenario.optimizer.learning_rate) from None
        self.pre = pre
        self.pending_batch = events[0]["x"], events[0]["y"]
        return cap(events, t.net.layers)

    def check(self, good: Snapshot) -> Snapshot:
        """The guard after unchecked steps from the good state `good`: the next good state, or
        Diverged with the run back at the step before the first bad one and its future dropped."""
        try:
            return guard.check(self.trainer, good)
        except guard.Diverged as e:
            self.branch(always=True)
            self.breakpoints.reset(self.trainer)
            raise diverged(e, self.scenario.optimizer.learning_rate) from None

    def complete(self, events: list[Event]) -> None:
        t = self.trainer
        self.pending, self.pre, self.index, self.pending_batch = None, None, 0, None
        if self.history.due(t.step_count):
            self.history.save(self.snapshot())
        else:
            self.history.reached(t.step_count)
        for e in events:
            if e["type"] == "epoch":
                self.add_curve(e)
        if t.step_count >= self.breakpoints.next_at:
            self.hit = self.breakpoints.at(t, self.task) or self.hit

    def take_hit(self) -> Reason | None:
        hit, self.hit = self.hit, None
        return hit

    def next_events(self) -> list[Event]:
        """Reveal the next event of the step (with `epoch` after the step's last update)."""
        if self.pending is None:
            self.pending, self.index = self.begin(), 0
        events = self.pending
        out = [events[self.index]]
        self.index += 1
        if self.index < len(events) and events[self.index]["type"] == "epoch":
            out.append(events[self.index])
            self.index += 1
        if self.index == len(events):
            self.complete(events)
        return out

    def finish(self) -> list[Event]:
        """The rest of the step in progress."""
        assert self.pending is not None
        events = self.pending
        rest = events[self.index :]
        self.complete(events)
        return rest

    def traced_step(self) -> list[Event]:
        events = self.begin()
        self.complete(events)
        self.params_json()  # the state that follows, encoded here in a worker thread when large
        return events

    def fast_step(self) -> Event | None:
        """An unchecked, untraced step; its epoch event when it ends one. The caller runs the
        guard (`check`) after a stretch of them."""
        t = self.trainer
        self.branch()
        epochs = t.epochs_done
        t.step()
        self.complete([])
        if t.epochs_done != epochs:
            e = t.epoch_event()
            self.add_curve(e)
            return e
        return None

    def train_for(self, seconds: float, now: Any, check: bool = False, max_steps: int | None = None) -> None:
        """Untraced steps for about `seconds`, and at most `max_steps` of them (checkpointing as it
        goes); Diverged when it must stop.

        The guard runs every CHECK_EVERY seconds of training, and whenever `check` (before a
        frame is shown); its replay from the last good state finds the exact first bad step.
        A breakpoint hit stops the stretch at its step: Paused, after the guard has passed it.
        """
        t, history, bp = self.trainer, self.history, self.breakpoints
        hit = None
        end = now() + seconds
        self.branch()
        if self.good is None or self.good["step"] > t.step_count:
            self.good, self.checked_at = t.snapshot(), now()
        done = 0
        while max_steps is None or done < max_steps:
            t.step()
            done += 1
            if t.step_count % history.every == 0:
                history.save(self.snapshot())
            if t.step_count >= bp.next_at:
                hit = bp.at(t, self.task)
                if hit is not None:
                    break
            if now() >= end:
                break
        history.reached(t.step_count)
        if hit is not None or check or now() - self.checked_at >= CHECK_EVERY:
            self.train_check(now)  # a divergence before the hit is the reason to pause
        if hit is not None:
            raise Paused(hit)

    def train_check(self, now: Any) -> None:
        """The guard over the training since the last good state."""
        good, self.good = self.good, None
        if good is not None and good["step"] == self.trainer.step_count:  # nothing trained since (an edit drops it)
            self.good = good
        elif good is not None:
            self.good, self.checked_at = self.check(good), now()

    def branch(self, always: bool = False) -> None:
        """Stepping on behind the last step (after a seek) or editing: forget the future."""
        s = self.trainer.step_count
        if always or s < self.history.last:
            self.history.truncate(s)
            self.curve = [r for r in self.curve if r[0] is not None and r[0] <= s]

    def abort(self) -> None:
        """Undo the step in progress (its events were only shown)."""
        if self.pre is not None:
            self.restore(self.pre)
        self.pending, self.pre, self.index, self.pending_batch = None, None, 0, None
        self.breakpoints.reset(self.trainer)

    def edited(self) -> None:
        """An edit is a new branch: the future is discarded and the edit kept as a checkpoint."""
        self.good = None
        self.branch(always=True)
        self.history.save(self.snapshot())
        self.add_curve(self.trainer.epoch_event())  # the losses at the edited weights, at this step
        self.breakpoints.reset(self.trainer)

    def goto(self, step: int) -> None:
        """Bring back step `step` exactly: its checkpoint, then the steps after it again."""
        self.restore(self.history.base(step))
        if self.trainer.step_count == step:  # no step recomputed: the last gradient and update are not this step's
            self.trainer.last_grad_w, self.trainer.last_changes = [], []
        while self.trainer.step_count < step:
            self.trainer.step()
        self.breakpoints.reset(self.trainer)


class _AtCursor:
    def __init__(self, c: Cursor) -> None:
        self.c = c
        self.saved: Snapshot | None = None

    def __enter__(self) -> None:
        if self.c.pre is not None:
            self.saved = self.c.trainer.snapshot()
            self.c.trainer.restore(self.c.pre)

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            self.c.trainer.restore(self.saved)
