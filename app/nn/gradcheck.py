"""Numerical check of the analytic gradient by central differences."""

from collections.abc import Callable
from typing import Any

import numpy as np

from app.nn.trainer import Trainer

Array = np.ndarray


def rel_error(a: Array, n: Array) -> Array:
    """|a - n| / max(|a| + |n|, 1e-12): 0 where both vanish."""
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-12)


def gradcheck(
    t: Trainer, x: Array, y: Array, eps: float = 1e-5, tick: Callable[[int, int], None] | None = None
) -> list[dict[str, Any]]:
    """Per layer: analytic and numeric dC/dW, dC/db and their relative errors.

    C is the batch cost, penalty included. The parameters are restored exactly afterwards.
    `tick(done, total)` is called after each parameter; an exception it raises stops the check.
    """
    _, _, _, grad_w, grad_b = t.gradients(x, y)
    total, done = sum(p.size for p in t.net.params), 0
    out = []
    for l, (w, b) in enumerate(zip(t.net.w, t.net.b), start=1):
        nums = []
        for p in (w, b):
            num = np.zeros_like(p)
            for k in np.ndindex(p.shape):
                old = p[k]
                p[k] = old + eps
                c_plus = t.cost(x, y)
                p[k] = old - eps
                c_minus = t.cost(x, y)
                p[k] = old
                num[k] = (c_plus - c_minus) / (2 * eps)
                done += 1
                if tick is not None:
                    tick(done, total)
            nums.append(num)
        gw, gb = grad_w[l - 1], grad_b[l - 1]
        out.append(
            {
                "layer": l,
                "grad_w": gw,
                "numeric_w": nums[0],
                "rel_error_w": rel_error(gw, nums[0]),
                "grad_b": gb,
                "numeric_b": nums[1],
                "rel_error_b": rel_error(gb, nums[1]),
            }
        )
    return out
