"""Training-health statistics of a network on a set of examples: the numbers breakpoints test
and the health view draws (loss, accuracy, gradient norms, dead and saturated units, histograms)."""

from typing import Any

import numpy as np

from app.nn.losses import LOSSES
from app.nn.network import Network

Array = np.ndarray
BOUNDS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}  # the activations that saturate, and their bounds
BINS = 16


def dead(net: Network, as_: list[Array]) -> list[Array]:
    """Per weight layer l (at [l-1]): indices of ReLU units whose output is 0 for every row of as_[l]."""
    out = []
    for l, name in enumerate(net.activations, start=1):
        if name == "relu" and len(as_[l]):
            out.append(np.flatnonzero((as_[l] <= 0.0).all(axis=0)))
        else:
            out.append(np.zeros(0, dtype=np.intp))
    return out


def saturated(net: Network, as_: list[Array], epsilon: float, fraction: float) -> list[Array]:
    """Per weight layer: indices of sigmoid or tanh units within `epsilon` of a bound
    (0 or 1 for sigmoid, -1 or 1 for tanh) on at least `fraction` of the rows."""
    out = []
    for l, name in enumerate(net.activations, start=1):
        if name in BOUNDS and len(as_[l]):
            a = as_[l] if name == "tanh" else 2.0 * as_[l] - 1.0  # both on [-1, 1]: one comparison
            scale = 1.0 if name == "tanh" else 2.0
            near = np.count_nonzero(np.abs(a) >= 1.0 - scale * epsilon, axis=0)
            out.append(np.flatnonzero(near >= fraction * len(a)))
        else:
            out.append(np.zeros(0, dtype=np.intp))
    return out


def grad_norms(net: Network, zs: list[Array], as_: list[Array], y: Array, loss: str, reg: Any) -> list[float]:
    """Frobenius norm of dC/dW per weight layer, C the mean loss over the rows plus the penalty."""
    _, grad_w, _ = net.backward(zs, as_, y, loss)
    if reg.active:
        grad_w = [g + reg.grad(w) for g, w in zip(grad_w, net.w)]
    return [float(np.linalg.norm(g)) for g in grad_w]


def histogram(x: Array, bins: int = BINS) -> dict[str, Any]:
    """Counts of x's finite entries in `bins` equal bins over [lo, hi] (its own range)."""
    v = x[np.isfinite(x)].ravel()
    if not len(v):
        return {"lo": 0.0, "hi": 0.0, "counts": [0] * bins}
    lo, hi = float(v.min()), float(v.max())
    if hi == lo:
        counts = np.zeros(bins, dtype=np.int64)
        counts[bins // 2] = len(v)
    else:
        k = np.minimum(((v - lo) * (bins / (hi - lo))).astype(np.intp), bins - 1)
        counts = np.bincount(k, minlength=bins)
    return {"lo": lo, "hi": hi, "counts": counts.tolist()}


def layers(
    net: Network, x: Array, grad_w: list[Array], dw: list[Array], epsilon: float = 0.02, fraction: float = 0.9
) -> list[dict[str, Any]]:
    """One entry per weight layer: histograms of W, dC/dW (`grad_w`, of the last step) and of
    the activations on the rows of x; dead and saturated unit counts on those rows; and
    ||dW|| / ||W||, the last step's update (`dw`) against the weights (0 when W is all zeros)."""
    _, as_ = net.forward(x)
    dead_ = dead(net, as_)
    sat = saturated(net, as_, epsilon, fraction)
    out = []
    for l in range(1, net.depth + 1):
        w = net.w[l - 1]
        norm_w = float(np.linalg.norm(w))
        g = grad_w[l - 1] if len(grad_w) >= l else np.zeros_like(w)
        d = dw[l - 1] if len(dw) >= l else np.zeros_like(w)
        out.append(
            {
                "layer": l,
                "weights": histogram(w),
                "grads": histogram(g),
                "activations": histogram(as_[l]),
                "dead": int(len(dead_[l - 1])),
                "saturated": int(len(sat[l - 1])),
                "update_ratio": float(np.linalg.norm(d)) / norm_w if norm_w > 0 else 0.0,
            }
        )
    return out


def loss_and_outputs(net: Network, x: Array, y: Array, loss: str) -> tuple[float, list[Array], list[Array]]:
    """Mean loss over the rows, with zs and as_ of the forward pass (for the other statistics)."""
    zs, as_ = net.forward(x)
    return float(LOSSES[loss].e(zs[-1], as_[-1], y).mean()), zs, as_
