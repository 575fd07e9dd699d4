"""One training run: batches, the traced step (propagation, then weight update), evaluation."""

from typing import Any

import numpy as np

from app.nn import guard
from app.nn.losses import LOSSES
from app.nn.network import Network
from app.nn.optimizers import Optimizer
from app.nn.regularization import Regularization

Array = np.ndarray
Event = dict[str, Any]

EVAL_ROWS = 1024  # a whole-set evaluation goes in blocks of rows beyond this


class Trainer:
    """A network, its data and optimizer, and where the run stands (step, epoch, offset)."""

    def __init__(
        self,
        net: Network,
        optimizer: Optimizer,
        loss: str,
        reg: Regularization,
        x: Array,
        y: Array,
        x_test: Array | None = None,
        y_test: Array | None = None,
        batch_size: int = 10,
        shuffle: bool = False,
        seed: int = 0,
        task: str = "regression",
        threshold: float = 0.5,
        frozen: set[int] | None = None,
    ) -> None:
        self.net, self.optimizer, self.loss, self.reg = net, optimizer, loss, reg
        # indices into net.params ([W1, b1, W2, b2, ...]) that training leaves as they are
        self.frozen = frozenset(frozen or ())
        self._zeros = {k: np.zeros_like(net.params[k]) for k in self.frozen}
        self.x, self.y, self.x_test, self.y_test = x, y, x_test, y_test
        self.batch_size, self.shuffle, self.seed, self.task = batch_size, shuffle, seed, task
        self.threshold = threshold  # binary tasks: outputs at or above it mean the high label
        self.step_count = 0  # completed steps
        self.epochs_done = 0
        self.offset = 0  # position in the current epoch's order
        self._order: tuple[int, Array] | None = None
        self.last_grad_w: list[Array] = []
        self.last_changes: list[Array] = []  # the last step's updates, [dW1, db1, dW2, ...]

    # --- batches -------------------------------------------------------------------------
    def order(self, epoch: int) -> Array:
        """The example order of epoch `epoch` (1-based): a fresh permutation from the seed."""
        if self._order is None or self._order[0] != epoch:
            n = len(self.x)
            perm = np.random.default_rng([self.seed, 2, epoch]).permutation(n) if self.shuffle else np.arange(n)
            self._order = (epoch, perm)
        return self._order[1]

    def next_indices(self) -> Array:
        """The next batch's indices; a last partial batch is a batch of its own."""
        return self.order(self.epochs_done + 1)[self.offset : self.offset + self.batch_size]

    def next_batch(self) -> tuple[Array, Array, Array | None]:
        """The next batch's x and y, and its indices when shuffled (None: rows offset.. in order)."""
        o = self.offset
        idx = self.next_indices() if self.shuffle else None
        if idx is None:  # in order: views, not copies (the data never changes in place)
            return self.x[o : o + self.batch_size], self.y[o : o + self.batch_size], None
        return self.x[idx], self.y[idx], idx

    def set_data(self, x: Array, y: Array, x_test: Array | None, y_test: Array | None) -> None:
        """Train on other examples from the next batch on (a point added or removed by hand).

        The weights, optimizer state and step count stay. The epoch's order is drawn again for
        the new number of examples; an offset past the end of the new set ends the epoch, whose
        remaining examples are gone.
        """
        self.x, self.y, self.x_test, self.y_test = x, y, x_test, y_test
        self._order = None
        if self.offset >= len(x):
            self.epochs_done += 1
            self.offset = 0

    def _advance(self, m: int) -> bool:
        self.step_count += 1
        self.offset += m
        if self.offset >= len(self.x):
            self.epochs_done += 1
            self.offset = 0
            return True
        return False

    # --- the step --------------------------------------------------------------------------
    def cost(self, x: Array, y: Array, params: list[Array] | None = None) -> float:
        """Batch cost C = mean loss + penalty, optionally at other parameters."""
        if params is None:
            return float(self.net.losses(x, y, self.loss)[0].mean()) + self.reg.penalty(self.net.w)
        saved = self.net.get()
        self.net.set(params)
        try:
            return self.cost(x, y)
        finally:
            self.net.set(saved)

    def gradients(self, x: Array, y: Array) -> tuple[list[Array], list[Array], list[Array], list[Array], list[Array]]:
        """Forward and backward on a batch: zs, as, deltas, grad_w, grad_b (with the penalty)."""
        zs, as_ = self.net.forward(x)
        deltas, grad_w, grad_b = self.net.backward(zs, as_, y, self.loss)
        if self.reg.active:
            grad_w = [g + self.reg.grad(w) for g, w in zip(grad_w, self.net.w)]
        return zs, as_, deltas, grad_w, grad_b

    def step(self, trace: bool = False) -> list[Event]:
        """One step: batch, forward 1..L, output error, backward L..1, update 1..L.

        With trace, returns the events of every phase (and `epoch` when the step ends one);
        without, returns [] and builds nothing it does not need.
        """
        epoch = self.epochs_done + 1
        o = self.offset
        x, y, idx = self.next_batch()
        zs, as_, deltas, grad_w, grad_b = self.gradients(x, y)
        grads = [g for pair in zip(grad_w, grad_b) for g in pair]
        if self.frozen:  # shown as computed, but the optimizer sees no slope: no change at all
            grads = [self._zeros.get(k, g) for k, g in enumerate(grads)]
        # dE/dx per example, with W_1 from before the update (which changes it in place)
        delta_input = deltas[0] @ self.net.w[0] if trace else None
        cost = (lambda p: self.cost(x, y, p)) if self.optimizer.needs_cost else None
        changes = self.optimizer.step(self.net.params, grads, cost)
        self.last_grad_w, self.last_changes = grad_w, changes
        ended = self._advance(len(x))
        if not trace:
            return []
        for k in self.frozen:  # the optimizers add -0.0; show the change as the 0 it is
            changes[k] = self._zeros[k].copy()
        s, depth = self.step_count, self.net.depth
        losses = LOSSES[self.loss].e(zs[-1], as_[-1], y)
        events: list[Event] = [
            {
                "type": "batch",
                "step": s,
                "epoch": epoch,
                "indices": np.arange(o, o + len(x)) if idx is None else idx,
                "x": x,
                "y": y,
            },
        ]
        for l in range(1, depth + 1):
            events.append({"type": "forward", "step": s, "layer": l, "z": zs[l], "a": as_[l]})
        events.append(
            {
                "type": "output_error",
                "step": s,
                "loss": float(losses.mean()),
                "losses": losses,
                "output": as_[-1],
                "target": y,
                "dloss": LOSSES[self.loss].de(as_[-1], y),
                "delta": deltas[-1],
            }
        )
        for l in range(depth, 0, -1):
            back: Event = {
                "type": "backward",
                "step": s,
                "layer": l,
                "delta": deltas[l - 1],
                "grad_w": grad_w[l - 1],
                "grad_b": grad_b[l - 1],
            }
            if l == 1:
                back["delta_input"] = delta_input
            events.append(back)
        for l in range(1, depth + 1):
            events.append(
                {
                    "type": "update",
                    "step": s,
                    "layer": l,
                    "weights": self.net.w[l - 1].copy(),
                    "biases": self.net.b[l - 1].copy(),
                    "dw": changes[2 * l - 2],
                    "db": changes[2 * l - 1],
                }
            )
        if ended:
            events.append(self.epoch_event())
        return events

    def train(self, steps: int, chunk: int = 64) -> None:
        """`steps` untraced steps under the divergence guard, checked once every `chunk` steps.

        Raises guard.Diverged, with the trainer at the state before the first bad step, when a
        step leaves the finite numbers (see app/nn/guard.py).
        """
        good = guard.check(self, self.snapshot())
        done = 0
        while done < steps:
            n = min(chunk, steps - done)
            with np.errstate(all="ignore"):  # overflow on the way to inf is the guard's to report
                for _ in range(n):
                    self.step()
            good = guard.check(self, good)
            done += n

    # --- evaluation ------------------------------------------------------------------------
    def evaluate(self, x: Array | None, y: Array | None) -> tuple[float | None, float | None]:
        """Mean loss and accuracy (None for regression) over a whole set."""
        if x is None or y is None or len(x) == 0:
            return None, None
        if len(x) <= EVAL_ROWS:
            losses, out = self.net.losses(x, y, self.loss)
        else:  # in blocks: each numpy call short, so a server thread doing this lets others run
            parts = [
                self.net.losses(x[k : k + EVAL_ROWS], y[k : k + EVAL_ROWS], self.loss)
                for k in range(0, len(x), EVAL_ROWS)
            ]
            losses, out = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        return float(losses.mean()), accuracy(out, y, self.task, self.threshold)

    def epoch_event(self) -> Event:
        train_loss, train_acc = self.evaluate(self.x, self.y)
        test_loss, test_acc = self.evaluate(self.x_test, self.y_test)
        return {
            "type": "epoch",
            "epoch": self.epochs_done,
            "step": self.step_count,
            "train_loss": train_loss,
            "test_loss": test_loss,
            "train_accuracy": train_acc,
            "test_accuracy": test_acc,
        }

    # --- snapshots -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything a later step depends on, copied."""
        return {
            "params": self.net.get(),
            "optimizer": self.optimizer.state(),
            "step": self.step_count,
            "epochs_done": self.epochs_done,
            "offset": self.offset,
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.net.set(snap["params"])
        self.optimizer.load(snap["optimizer"])
        self.step_count, self.epochs_done, self.offset = snap["step"], snap["epochs_done"], snap["offset"]


def accuracy(out: Array, y: Array, task: str, threshold: float = 0.5) -> float | None:
    """Fraction classified right: argmax for multiclass, a threshold between the labels for binary."""
    if task == "multiclass":
        return float((out.argmax(axis=1) == y.argmax(axis=1)).mean())
    if task == "binary":
        return float(((out >= threshold) == (y >= threshold)).all(axis=1).mean())
    return None
