"""A fully connected network: forward, backward, and the parameters they use."""

import numpy as np

from app.nn.activations import ACTIVATIONS
from app.nn.losses import LOSSES, output_delta

Array = np.ndarray


class Network:
    """Layers n0..nL; w[l-1] is n_l x n_(l-1) (into unit j from unit i), b[l-1] has n_l."""

    def __init__(self, layers: list[int], activations: list[str], weights: list[Array], biases: list[Array]) -> None:
        self.layers = list(layers)
        self.activations = list(activations)
        self.acts = [ACTIVATIONS[name] for name in activations]
        self.w = [np.array(w, dtype=np.float64) for w in weights]
        self.b = [np.array(b, dtype=np.float64) for b in biases]
        # one list in optimizer order; the arrays are updated in place, so it stays valid
        self.params = [p for pair in zip(self.w, self.b) for p in pair]

    @property
    def depth(self) -> int:
        return len(self.w)

    def forward(self, x: Array) -> tuple[list[Array], list[Array]]:
        """zs[l] and as_[l] for l = 1..L (zs[0] is unused; as_[0] is the input)."""
        zs: list[Array] = [x]
        as_: list[Array] = [x]
        a = x
        for w, b, act in zip(self.w, self.b, self.acts):
            z = a @ w.T + b
            a = act.f(z)
            zs.append(z)
            as_.append(a)
        return zs, as_

    def predict(self, x: Array) -> Array:
        return self.forward(x)[1][-1]

    def backward(
        self, zs: list[Array], as_: list[Array], y: Array, loss: str
    ) -> tuple[list[Array], list[Array], list[Array]]:
        """Per-example deltas dE/dz and batch-mean gradients, indexed by layer 1..L at [l-1]."""
        m = y.shape[0]
        depth = self.depth
        deltas: list[Array] = [y] * depth
        grad_w: list[Array] = [y] * depth
        grad_b: list[Array] = [y] * depth
        delta = output_delta(loss, self.acts[-1], zs[-1], as_[-1], y)
        for l in range(depth, 0, -1):
            deltas[l - 1] = delta
            # dW = (1/m) Delta^T A: the batch mean of delta_j a_i
            grad_w[l - 1] = delta.T @ as_[l - 1] / m
            grad_b[l - 1] = delta.sum(axis=0) / m
            if l > 1:
                # chain rule: delta_(l-1) = f'(z_(l-1)) * (delta_l W_l), with W before the update
                delta = (delta @ self.w[l - 1]) * self.acts[l - 2].df(zs[l - 1], as_[l - 1])
        return deltas, grad_w, grad_b

    def losses(self, x: Array, y: Array, loss: str) -> tuple[Array, Array]:
        """Per-example losses and the outputs."""
        zs, as_ = self.forward(x)
        return LOSSES[loss].e(zs[-1], as_[-1], y), as_[-1]

    def get(self) -> list[Array]:
        return [p.copy() for p in self.params]

    def set(self, params: list[Array]) -> None:
        # copy into the existing arrays so self.params and the optimizer's view stay valid
        for p, v in zip(self.params, params):
            np.copyto(p, v)

    def finite(self) -> bool:
        return all(bool(np.isfinite(p).all()) for p in self.params)
