"""Activation functions, each beside its derivative with respect to z."""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

Array = np.ndarray


class Activation(NamedTuple):
    """f(z) and f'(z); df takes z and a = f(z) so it can reuse a."""

    f: Callable[[Array], Array]
    df: Callable[[Array, Array], Array]

    def __reduce__(self) -> tuple[Callable[[str], "Activation"], tuple[str]]:
        # pickled by name: some of the functions are lambdas, which pickle cannot name
        return _named, (next(k for k, v in ACTIVATIONS.items() if v is self),)


def _sigmoid(z: Array) -> Array:
    # exp(-|z|) never overflows: 1/(1+e) for z >= 0, and e/(1+e) = e^z/(1+e^z) for z < 0
    e = np.exp(-np.abs(z))
    d = 1.0 + e
    return np.where(z >= 0, 1.0 / d, e / d)


def _softmax(z: Array) -> Array:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_df(z: Array, a: Array) -> Array:
    # softmax has a full Jacobian; its only valid loss (cross_entropy) bypasses this
    raise ValueError("softmax is only differentiated together with cross_entropy")


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(_sigmoid, lambda z, a: a * (1.0 - a)),
    "tanh": Activation(np.tanh, lambda z, a: 1.0 - a * a),
    "relu": Activation(lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(np.float64)),
    "leaky_relu": Activation(lambda z: np.where(z > 0, z, 0.01 * z), lambda z, a: np.where(z > 0, 1.0, 0.01)),
    "linear": Activation(lambda z: z.copy(), lambda z, a: np.ones_like(z)),
    "softmax": Activation(_softmax, _softmax_df),
}


def _named(name: str) -> Activation:
    return ACTIVATIONS[name]
