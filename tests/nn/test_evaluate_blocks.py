"""A large set is evaluated in blocks of rows; the figures are those of the whole set at once."""

import numpy as np

from app import scenario as sc
from app.nn import trainer as tr


def test_blocks_give_the_whole_sets_loss_and_accuracy() -> None:
    rng = np.random.default_rng(3)
    n = tr.EVAL_ROWS * 2 + 17
    x = rng.normal(size=(n, 2))
    y = (x[:, :1] * x[:, 1:] > 0).astype(float)
    doc = {
        "layers": [2, 5, 1],
        "activations": ["tanh", "sigmoid"],
        "loss": "binary_cross_entropy",
        "data": {"train": {"x": x.tolist(), "y": y.tolist()}},
    }
    t = sc.build(sc.parse(doc)).trainer
    losses, out = t.net.losses(x, y, t.loss)  # the whole set in one pass, by hand
    want_acc = float(((out > t.threshold) == (y > t.threshold)).mean())
    loss, acc = t.evaluate(x, y)
    assert loss is not None and abs(loss - losses.mean()) <= 1e-12 * abs(losses.mean())
    assert acc == want_acc
