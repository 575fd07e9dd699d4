"""A scenario at every limit at once, shared by the CLI and upload tests."""

from typing import Any

import numpy as np

from app.scenario import LIMITS

UNITS = LIMITS["max_units"]
EXAMPLES = LIMITS["max_examples"]
# the longest shortest-form a float64 prints in: 17 significant digits, a sign and an exponent
LONGEST = -1.2345678901234567e-05


def largest(longest_numbers: bool = False) -> dict[str, Any]:
    """10 weight layers of 64 units; 10,000 examples (9,000 train, 1,000 test) of 64 inputs and
    64 targets, with values up to ±max_abs_value; a full batch.

    With longest_numbers, every input and target is printed as long as a float64 can be, the
    worst case for the document's size.
    """
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, (EXAMPLES, UNITS)) * 10.0 ** rng.integers(-6, 7, (EXAMPLES, UNITS))
    x = x.clip(-LIMITS["max_abs_value"], LIMITS["max_abs_value"])
    x[0, :2] = [LIMITS["max_abs_value"], -LIMITS["max_abs_value"]]
    y = rng.uniform(0, 1, (EXAMPLES, UNITS))
    if longest_numbers:
        x = np.full_like(x, LONGEST)
        y = np.full_like(y, LONGEST)
    split = EXAMPLES - EXAMPLES // 10
    return {
        "name": "n" * 100,
        "title": "t" * 200,
        "description": "d" * 4000,
        "layers": [UNITS] * (LIMITS["max_weight_layers"] + 1),
        "activations": ["tanh"] * (LIMITS["max_weight_layers"] - 1) + ["linear"],
        "optimizer": {"type": "adam", "learning_rate": 0.001},
        "regularization": {"type": "l2", "rate": LIMITS["max_reg_rate"] / 1e4},
        "batch_size": EXAMPLES,
        "seed": LIMITS["max_seed"],
        "frozen": ["W1", "b10"],
        "bias_free": [2],
        "data": {
            "train": {"x": x[:split].tolist(), "y": y[:split].tolist()},
            "test": {"x": x[split:].tolist(), "y": y[split:].tolist()},
        },
    }
