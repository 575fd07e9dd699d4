"""Per-example losses E(a, y), each beside dE/da and its stable output delta dE/dz."""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from app.nn.activations import Activation

Array = np.ndarray

# dE/da divides by a or (1 - a); clip there so a saturated output gives a large finite number
EPS = 1e-12


class Loss(NamedTuple):
    """E per example (rows), dE/da, and delta = dE/dz given the output activation."""

    e: Callable[[Array, Array, Array], Array]  # (z, a, y) -> E per row
    de: Callable[[Array, Array], Array]  # (a, y) -> dE/da

    def __reduce__(self) -> tuple[Callable[[str], "Loss"], tuple[str]]:
        # pickled by name: some of the functions are lambdas, which pickle cannot name
        return _named, (next(k for k, v in LOSSES.items() if v is self),)


def _squared_error(z: Array, a: Array, y: Array) -> Array:
    return 0.5 * np.sum((a - y) ** 2, axis=1)


def _binary_cross_entropy(z: Array, a: Array, y: Array) -> Array:
    # with a = sigmoid(z): -[y log a + (1-y) log(1-a)] = log(1 + e^z) - y z, exact and stable
    return np.sum(np.logaddexp(0.0, z) - y * z, axis=1)


def _cross_entropy(z: Array, a: Array, y: Array) -> Array:
    # with a = softmax(z): -sum y log a = -sum y (z - logsumexp(z)), via log-sum-exp
    m = z.max(axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return -np.sum(y * (z - lse), axis=1)


def _bce_de(a: Array, y: Array) -> Array:
    ac = np.clip(a, EPS, 1.0 - EPS)
    return (ac - y) / (ac * (1.0 - ac))


LOSSES: dict[str, Loss] = {
    "squared_error": Loss(_squared_error, lambda a, y: a - y),
    "binary_cross_entropy": Loss(_binary_cross_entropy, _bce_de),
    "cross_entropy": Loss(_cross_entropy, lambda a, y: -y / np.maximum(a, EPS)),
}

# loss -> the output activation it requires, where it requires one
REQUIRED_OUTPUT = {"binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}


def output_delta(loss: str, act: Activation, z: Array, a: Array, y: Array) -> Array:
    """dE/dz at the output (batch x n_L): dE/da * f'(z), or its exact closed form for a matched pair.

    sigmoid + binary_cross_entropy: E = sum_k log(1 + e^z_k) - y_k z_k, so dE/dz = a - y for any y.
    softmax + cross_entropy: E = -sum_k y_k (z_k - lse(z)), so dE/dz_k = a_k sum_j y_j - y_k;
    that is a - y only where the row of targets sums to 1 (a multi-hot or all-zero row does not).
    Both forms stay exact when a saturates, where dE/da * f'(z) would be 0 * inf.
    """
    if loss == "binary_cross_entropy":
        return a - y
    if loss == "cross_entropy":
        return a * y.sum(axis=1, keepdims=True) - y
    return LOSSES[loss].de(a, y) * act.df(z, a)


def _named(name: str) -> Loss:
    return LOSSES[name]
