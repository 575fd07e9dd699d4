"""The issue's minimal diverging case, shared by the guard, CLI and websocket tests."""

import copy
from typing import Any

# u = w + b doubles in size every step (u <- u - 1.5 * 2u), so the loss 0.5 u^2 first
# overflows at the state after step 512, where |u| = 2^512
MINIMAL: dict[str, Any] = {
    "layers": [1, 1],
    "activations": ["linear"],
    "loss": "squared_error",
    "optimizer": {"type": "sgd", "learning_rate": 1.5},
    "batch_size": 1,
    "weights": [[[1.0]]],
    "biases": [[0.0]],
    "data": {"train": {"x": [[1.0]], "y": [[0.0]]}},
}
FIRST_BAD = 512


def minimal() -> dict[str, Any]:
    return copy.deepcopy(MINIMAL)
