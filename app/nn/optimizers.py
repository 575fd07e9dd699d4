"""Optimizers: each turns the gradient of every parameter into the change applied to it."""

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

Array = np.ndarray
CostFn = Callable[[list[Array]], float]


class Optimizer(ABC):
    """Base: step() adds a change to each parameter in place and returns the changes."""

    needs_cost = False  # True where step() evaluates the cost (a line search)

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate

    @abstractmethod
    def step(self, params: list[Array], grads: list[Array], cost: CostFn | None = None) -> list[Array]:
        """Apply one update; `cost` evaluates the batch cost at other parameters."""

    def state(self) -> dict[str, object]:
        return {}

    def load(self, state: dict[str, object]) -> None:
        pass

    def finite(self) -> bool:
        """Whether every array the optimizer keeps (velocities, moments, curvature pairs) is finite."""
        for v in vars(self).values():
            for a in v if isinstance(v, list) else [v]:
                if isinstance(a, np.ndarray) and not np.isfinite(a).all():
                    return False
        return True


class SGD(Optimizer):
    """w <- w - lr * dC/dw."""

    def step(self, params: list[Array], grads: list[Array], cost: CostFn | None = None) -> list[Array]:
        lr = self.learning_rate
        deltas = []
        for p, g in zip(params, grads):
            d = -lr * g
            p += d
            deltas.append(d)
        return deltas


class Momentum(Optimizer):
    """v <- mu v - lr dC/dw; w <- w + v."""

    def __init__(self, learning_rate: float, momentum: float = 0.9) -> None:
        super().__init__(learning_rate)
        self.momentum = momentum
        self.v: list[Array] | None = None

    def step(self, params: list[Array], grads: list[Array], cost: CostFn | None = None) -> list[Array]:
        if self.v is None:
            self.v = [np.zeros_like(p) for p in params]
        deltas = []
        for p, g, v in zip(params, grads, self.v):
            v *= self.momentum
            v -= self.learning_rate * g
            p += v
            deltas.append(v.copy())
        return deltas

    def state(self) -> dict[str, object]:
        return {"v": None if self.v is None else [v.copy() for v in self.v]}

    def load(self, state: dict[str, object]) -> None:
        v = state.get("v")
        self.v = None if v is None else [x.copy() for x in v]  # type: ignore[attr-defined]


class Adam(Optimizer):
    """Adam with bias correction: w <- w - lr m_hat / (sqrt(v_hat) + eps)."""

    def __init__(self, learning_rate: float, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> None:
        super().__init__(learning_rate)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.t = 0
        self.m: list[Array] | None = None
        self.v: list[Array] | None = None

    def step(self, params: list[Array], grads: list[Array], cost: CostFn | None = None) -> list[Array]:
        if self.m is None or self.v is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        c1, c2 = 1.0 - b1**self.t, 1.0 - b2**self.t
        deltas = []
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * g * g
            d = -self.learning_rate * (m / c1) / (np.sqrt(v / c2) + self.epsilon)
            p += d
            deltas.append(d)
        return deltas

    def state(self) -> dict[str, object]:
        copy = lambda xs: None if xs is None else [x.copy() for x in xs]  # noqa: E731
        return {"t": self.t, "m": copy(self.m), "v": copy(self.v)}

    def load(self, state: dict[str, object]) -> None:
        self.t = int(state["t"])  # type: ignore[call-overload]
        self.m = None if state["m"] is None else [x.copy() for x in state["m"]]  # type: ignore[attr-defined]
        self.v = None if state["v"] is None else [x.copy() for x in state["v"]]  # type: ignore[attr-defined]


class LBFGS(Optimizer):
    """Limited-memory BFGS on the full batch: a quasi-Newton direction from the last
    `memory` gradient differences, then a backtracking (Armijo) line search from lr."""

    needs_cost = True

    def __init__(self, learning_rate: float = 1.0, memory: int = 10) -> None:
        super().__init__(learning_rate)
        self.memory = memory
        self.s: list[Array] = []
        self.y: list[Array] = []
        self.prev_x: Array | None = None
        self.prev_g: Array | None = None

    def _direction(self, g: Array) -> Array:
        # two-loop recursion: approximates -H^-1 g from the stored (s, y) pairs
        q = g.copy()
        alphas = []
        for s, y in zip(reversed(self.s), reversed(self.y)):
            rho = 1.0 / float(y @ s)
            alpha = rho * float(s @ q)
            q -= alpha * y
            alphas.append((rho, alpha, s, y))
        if self.s:
            s, y = self.s[-1], self.y[-1]
            q *= float(s @ y) / float(y @ y)
        for rho, alpha, s, y in reversed(alphas):
            beta = rho * float(y @ q)
            q += (alpha - beta) * s
        return -q

    def step(self, params: list[Array], grads: list[Array], cost: CostFn | None = None) -> list[Array]:
        x = np.concatenate([p.ravel() for p in params])
        g = np.concatenate([gr.ravel() for gr in grads])
        if self.prev_x is not None and self.prev_g is not None:
            s, y = x - self.prev_x, g - self.prev_g
            if float(s @ y) > 1e-10:  # keep only pairs that preserve positive curvature
                self.s.append(s)
                self.y.append(y)
                if len(self.s) > self.memory:
                    self.s.pop(0)
                    self.y.pop(0)
        d = self._direction(g)
        slope = float(g @ d)
        if slope >= 0:  # not a descent direction: fall back to steepest descent
            self.s.clear()
            self.y.clear()
            d, slope = -g, -float(g @ g)
        t = self.learning_rate
        if cost is not None and slope < 0:
            c0 = cost(params)
            for _ in range(30):
                trial = _unflatten(x + t * d, params)
                if cost(trial) <= c0 + 1e-4 * t * slope:
                    break
                t *= 0.5
        self.prev_x, self.prev_g = x, g
        deltas = _unflatten(t * d, params)
        for p, dp in zip(params, deltas):
            p += dp
        return deltas

    def state(self) -> dict[str, object]:
        # step() makes new arrays and never writes into a stored pair, so a snapshot can share
        # them (50 pairs of a large network are tens of MB; load() copies)
        return {"s": list(self.s), "y": list(self.y), "prev_x": self.prev_x, "prev_g": self.prev_g}

    def load(self, state: dict[str, object]) -> None:
        self.s = [s.copy() for s in state["s"]]  # type: ignore[attr-defined]
        self.y = [y.copy() for y in state["y"]]  # type: ignore[attr-defined]
        self.prev_x = None if state["prev_x"] is None else state["prev_x"].copy()  # type: ignore[attr-defined]
        self.prev_g = None if state["prev_g"] is None else state["prev_g"].copy()  # type: ignore[attr-defined]


def _unflatten(flat: Array, like: list[Array]) -> list[Array]:
    out, k = [], 0
    for p in like:
        out.append(flat[k : k + p.size].reshape(p.shape).copy())
        k += p.size
    return out


def make(kind: str, **params: float) -> Optimizer:
    """Build an optimizer by name from its settings."""
    lr = params.pop("learning_rate")
    if kind == "sgd":
        return SGD(lr)
    if kind == "momentum":
        return Momentum(lr, **params)
    if kind == "adam":
        return Adam(lr, **params)
    if kind == "lbfgs":
        return LBFGS(lr, memory=int(params.get("memory", 10)))
    raise ValueError(f"unknown optimizer {kind!r}")
