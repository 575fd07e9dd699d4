"""L1/L2 penalties on the weights (never the biases), added to the cost and its gradient."""

import numpy as np

Array = np.ndarray


class Regularization:
    """C = mean(E) + rate * sum|w| (l1) or + rate/2 * sum w^2 (l2)."""

    def __init__(self, kind: str = "none", rate: float = 0.0) -> None:
        self.kind, self.rate = kind, rate

    @property
    def active(self) -> bool:
        return self.kind != "none" and self.rate > 0

    def penalty(self, weights: list[Array]) -> float:
        if not self.active:
            return 0.0
        if self.kind == "l1":
            return self.rate * sum(float(np.abs(w).sum()) for w in weights)
        return 0.5 * self.rate * sum(float((w * w).sum()) for w in weights)

    def grad(self, w: Array) -> Array:
        """d penalty / dw: rate * sign(w) (l1, 0 at w = 0) or rate * w (l2)."""
        return self.rate * (np.sign(w) if self.kind == "l1" else w)
