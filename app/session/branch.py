"""A/B branches: a second run from step N of the session's run with one thing changed, trained
in lockstep with it (the same batches in the same order) and compared step by step.

Run "a" is the session's own run; run "b" is a fork of it at `from_step` with the change
applied. Whenever a has moved (a command, a slice of training), b follows it to the same step.
Both runs' training losses are recorded in pairs, with the distance ‖θ_a − θ_b‖ between their
parameters, and the comparison marks the first step where the losses differ by more than a
tolerance, the step where the parameters are farthest apart, and the weight that differs most.
"""

import base64
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from app import scenario as sc
from app.nn import datasets
from app.protocol import ProtocolError
from app.session import maps, offload, work
from app.session.breakpoints import Diverged
from app.session.cursor import Cursor, Event

if TYPE_CHECKING:
    from app.session.session import Session

MAP_RES = 50  # b's output maps: 50x50 grids, about 3 KB each in base64
MAX_ROWS = 1000  # paired rows kept; beyond, every other old row goes
REPLAY_ROWS = 500  # rows a catch-up of many steps records at most
FOLLOWS = frozenset({"next", "step", "epoch", "seek", "pause"})  # commands after which b follows a


class Branch:
    """Run b beside the session's run a, and their paired curve: rows [step, loss_a, loss_b, distance]."""

    def __init__(self, b: Cursor, from_step: int, change: dict[str, Any], tolerance: float) -> None:
        self.b, self.from_step, self.change, self.tolerance = b, from_step, change, tolerance
        self.rows: list[list[float | None]] = []
        self.stopped: str | None = None  # why b no longer trains (it diverged)
        self.points = maps.grid(b.extent, MAP_RES) if b.extent else None
        self.sent = 0  # rows already sent in a frame
        self.drawn: tuple[bytes, list[dict[str, Any]]] | None = None  # b's maps, by its parameters' bits

    @property
    def live(self) -> bool:
        return self.stopped is None

    # --- the paired curve ----------------------------------------------------------------
    def add_row(self, step: int, a_params: list[np.ndarray], a_loss: float | None) -> None:
        """A row at `step`, where b stands now and a had `a_params` and training loss `a_loss`."""
        b_loss, _ = self.b.trainer.evaluate(self.b.trainer.x, self.b.trainer.y)
        diff = math.sqrt(sum(float(((p - q) ** 2).sum()) for p, q in zip(a_params, self.b.trainer.net.params)))
        row = [step, finite(a_loss), finite(b_loss), finite(diff)]
        while self.rows and self.rows[-1][0] is not None and self.rows[-1][0] >= step:
            self.rows.pop()
        self.rows.append(row)
        self.sent = min(self.sent, len(self.rows) - 1)
        if len(self.rows) > MAX_ROWS:
            self.rows = self.rows[:-1:2] + self.rows[-1:]
            self.sent = len(self.rows) - 1

    def add_row_of(self, a: Cursor) -> None:
        """A row at a's step as shown (add_row), b standing there too."""
        with a.at_cursor():
            t = a.trainer
            self.add_row(t.step_count, t.net.params, t.evaluate(t.x, t.y)[0])

    def truncate(self, step: int) -> None:
        self.rows = [r for r in self.rows if r[0] is not None and r[0] <= step]
        self.sent = min(self.sent, len(self.rows))

    def first_difference(self) -> int | None:
        """The first recorded step where |loss_b − loss_a| > tolerance (or one loss is not finite)."""
        for step, la, lb, _ in self.rows:
            if la is None or lb is None or abs(lb - la) > self.tolerance:
                return int(step)  # type: ignore[arg-type]
        return None

    def widest(self) -> int | None:
        """The recorded step where the parameters of the two runs are farthest apart."""
        known = [r for r in self.rows if r[3] is not None]
        return int(max(known, key=lambda r: r[3])[0]) if known else None  # type: ignore[arg-type, return-value]

    def weight(self, a: Cursor) -> dict[str, Any] | None:
        """The weight that differs most between a and b now: where, and both values."""
        best: dict[str, Any] | None = None
        for l, (wa, wb) in enumerate(zip(a.shown()[0][0::2], self.b.shown()[0][0::2]), start=1):
            d = np.abs(wa - wb)
            if not np.isfinite(d).all():
                continue
            to, frm = np.unravel_index(int(d.argmax()), d.shape)
            if best is None or d[to, frm] > best["diff"]:
                best = {"layer": l, "to": int(to), "from": int(frm), "a": float(wa[to, frm])}
                best.update(b=float(wb[to, frm]), diff=float(d[to, frm]))
        return best

    # --- events --------------------------------------------------------------------------
    def event(self, a: Cursor, full: bool = True) -> Event:
        """The `branch` event: the whole curve when `full`, else the rows since the last one sent."""
        params, step, _ = self.b.shown()
        rows = self.rows if full else self.rows[self.sent :]
        self.sent = len(self.rows)
        return {
            "type": "branch",
            "full": full,
            "from_step": self.from_step,
            "change": self.change,
            "tolerance": self.tolerance,
            "step": step,
            "paused_reason": self.stopped,
            "curve": rows,
            "first_difference": self.first_difference(),
            "widest": self.widest(),
            "weight": self.weight(a),
            "weights": params[0::2],
            "biases": params[1::2],
            "maps": self.maps(),
        }

    def maps(self) -> list[dict[str, Any]] | None:
        """b's output units over the plane, each a MAP_RES² grid of bytes (0–255 from lo to hi) in
        base64, row by row from the top as in the maps message."""
        if self.points is None:
            return None
        net = self.b.trainer.net
        bits = b"".join(p.tobytes() for p in net.params)  # a pause or a welcome sends them again
        if self.drawn is not None and self.drawn[0] == bits:
            return self.drawn[1]
        out = net.predict(self.points)
        found = []
        for j in range(out.shape[1]):
            lo, hi, q = maps.quantize(out[:, j])
            found.append({"unit": j, "res": MAP_RES, "lo": lo, "hi": hi, "data": base64.b64encode(q).decode()})
        self.drawn = bits, found
        return found

    # --- following a ---------------------------------------------------------------------
    def catch_up(self, a: Cursor, target: int) -> None:
        """Step b, and a copy of a replaying a's steps, from b's step to `target` in lockstep,
        recording up to REPLAY_ROWS rows; a's checkpoints (its edits among them) are taken up
        as the copy passes them, so the copy is a as it was."""
        b = self.b
        start = b.trainer.step_count
        if start >= target or not self.live:
            return
        # a's history may no longer reach back to b's step (a long `step` count): then b steps
        # alone and only the last row is recorded, against a itself
        shadow = None
        if start >= a.history.first:
            shadow = a.fork()
            shadow.abort()
            shadow.goto(start)
        every = max(1, (target - start) // REPLAY_ROWS) if shadow else target - start
        good = b.trainer.snapshot()
        checked = time.perf_counter()
        for k in range(start, target):
            if shadow is not None:
                shadow.trainer.step()
                snap = a.history.snaps.get(k + 1)  # a's own state there: the step's, or an edit of it
                if snap is not None:
                    shadow.restore(snap)
            b.fast_step()
            if (k + 1) % every == 0 or k + 1 == target or time.perf_counter() - checked > 0.01:
                try:
                    good = b.check(good)
                except Diverged as e:
                    self.stop(str(e))
                    return
                checked = time.perf_counter()
                if shadow is None and k + 1 == target:
                    self.add_row_of(a)  # a as shown
                elif shadow is not None and ((k + 1) % every == 0 or k + 1 == target):
                    t = shadow.trainer
                    self.add_row(k + 1, t.net.params, t.evaluate(t.x, t.y)[0])

    def stop(self, reason: str) -> None:
        self.stopped = f"Run b stopped: {reason}"
        self.truncate(self.b.trainer.step_count)

    def train_for(self, a: Cursor, seconds: float, now: Any, check: bool) -> None:
        """One slice of training in lockstep: a trains while b is level with it, then b catches
        up (all the way when a frame is due, so the frame pairs both at one step)."""
        b = self.b
        if not self.live or b.trainer.step_count >= a.trainer.step_count:
            a.train_for(seconds / 2 if self.live else seconds, now, check)
        elif check:
            a.train_check(now)
        lag = a.trainer.step_count - b.trainer.step_count
        if self.live and lag > 0:
            try:
                b.train_for(math.inf if check else seconds / 2, now, check, max_steps=lag)
            except Diverged as e:
                self.stop(str(e))

    def frame_event(self, a: Cursor, a_loss: float | None) -> Event:
        """The incremental `branch` event sent with a train frame."""
        t = a.trainer
        if self.b.trainer.step_count == t.step_count:
            self.add_row(t.step_count, t.net.params, a_loss)
        return self.event(a, full=False)


def finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


# --- commands ----------------------------------------------------------------------------------
def make(s: "Session", cmd: Any) -> Branch:
    """Run b: a fork of a at cmd.from_step with cmd.change applied; ProtocolError changes nothing."""
    a = s.cursor
    shown = a.step_shown()
    if not a.history.first <= cmd.from_step <= min(shown, a.history.last):
        raise ProtocolError(
            "out_of_history",
            f"branch.from_step: step {cmd.from_step} is outside the steps a branch can start from "
            f"({a.history.first}–{shown}: the history up to the step shown)",
            "branch",
        )
    change = cmd.change.model_dump(by_alias=True, exclude_none=True)
    (kind,) = change  # the model holds exactly one
    if kind == "weight":
        w = cmd.change.weight
        from app.session.commands import check_weight

        try:
            check_weight(s, w.layer, w.to, w.from_, "branch.change.weight")
        except ProtocolError as e:
            raise ProtocolError(e.code, e.message, "branch") from None
    b = a.fork()
    b.abort()
    b.goto(cmd.from_step)
    before = b.trainer.net.get()
    a_loss = b.trainer.evaluate(b.trainer.x, b.trainer.y)[0]
    apply(b, kind, cmd.change)
    b.edited()
    branch = Branch(b, cmd.from_step, change, cmd.tolerance)
    branch.add_row(cmd.from_step, before, a_loss)
    return branch


def apply(b: Cursor, kind: str, change: Any) -> None:
    """Make the one change to run b (its scenario checked as a whole, as `set` checks one)."""
    t = b.trainer
    if kind == "weight":
        w = change.weight
        t.net.w[w.layer - 1][w.to, w.from_] = w.value
        return
    if kind == "seed":
        s = b.scenario
        ws, bs = datasets.init_weights(
            s.layers, s.init.scheme, np.random.default_rng([change.seed, 1]), s.init.scale, s.init.bias
        )
        for l in s.bias_free:
            bs[l - 1][:] = 0.0
        t.net.set([p for pair in zip(ws, bs) for p in pair])
        t.optimizer = sc.make_optimizer(s.optimizer)  # the old state belongs to other weights
        return
    from app.session.commands import reconfigured

    update: dict[str, Any] = {}
    if kind == "learning_rate":
        update["optimizer"] = {**b.scenario.optimizer.model_dump(), "learning_rate": change.learning_rate}
    elif kind == "optimizer":
        update["optimizer"] = change.optimizer.model_dump()
    elif kind == "regularization":
        update["regularization"] = change.regularization.model_dump()
    else:
        update["batch_size"] = change.batch_size
    try:
        new = reconfigured(b.scenario, update)
    except ProtocolError as e:
        raise ProtocolError("invalid_command", e.message.replace("set: ", "branch.change: ", 1), "branch") from None
    b.configure(new)


async def follow(s: "Session", force: bool = False) -> None:
    """Bring b to a's step after a command: step it on in lockstep, or back when a went back
    (before from_step, the branch ends), then tell every member. Publishes only on a change
    unless `force`."""
    br: Branch | None = s.branch
    if br is None:
        return
    a, b = s.cursor, br.b
    target = a.step_shown()  # not a's trainer: a step in progress (a paused animation) is not yet a's
    before = b.trainer.step_count
    if before > target:
        if target < br.from_step:
            s.branch = None
            reason = f"run a went back to step {target}, before the branch point {br.from_step}"
            s.publish({"type": "branch_closed", "kept": "a", "reason": reason})
            return
        b.abort()
        await offload.goto(b, target)
        br.truncate(target)
        await work.run(br.add_row_of, a, flops=offload.evaluation_flops(a) + offload.evaluation_flops(b))
    elif before < target and br.live:
        await work.run(br.catch_up, a, target, flops=2 * (target - before) * b.step_flops())
    if force or b.trainer.step_count != before:
        flops = 0 if br.points is None else work.forward_flops(b.trainer.net.layers, len(br.points))
        s.publish(await work.run(br.event, a, flops=flops))


async def keep(s: "Session", which: str) -> None:
    """Keep run `which` ("a" or "b") and drop the other."""
    br: Branch | None = s.branch
    if br is None:
        raise ProtocolError("no_branch", "there is no branch to keep or drop; start one with `branch`", "branch_keep")
    s.branch = None
    s.publish({"type": "branch_closed", "kept": which, "reason": f"run {which} kept"})
    if which == "b":
        br.b.good = None
        s.install(br.b)  # b's history holds a's steps before from_step, and its own after
