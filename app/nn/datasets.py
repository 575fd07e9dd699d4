"""Generated datasets and initialization schemes, all drawn from a seeded generator."""

import numpy as np

Array = np.ndarray
Rng = np.random.Generator

# generator -> (task, input size); binary labels are 0/1 here and mapped to targets later
GENERATORS: dict[str, tuple[str, int]] = {
    "circle": ("binary", 2),
    "xor": ("binary", 2),
    "gaussian": ("binary", 2),
    "spiral": ("binary", 2),
    "moons": ("binary", 2),
    "three_class": ("multiclass", 2),
    "regression_plane": ("regression", 2),
    "regression_sine": ("regression", 1),
    "and": ("binary", 2),
    "or": ("binary", 2),
    "xor_gate": ("binary", 2),
    "encoder_8_3_8": ("identity", 8),
}
# truth tables and the encoder are fixed sets: every example is a training example
FIXED = {"and", "or", "xor_gate", "encoder_8_3_8"}


def _halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def _polar(rng: Rng, n: int, r_lo: float, r_hi: float) -> Array:
    r = rng.uniform(r_lo, r_hi, n)
    t = rng.uniform(0.0, 2 * np.pi, n)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def generate(name: str, samples: int, noise: float, rng: Rng) -> tuple[Array, Array]:
    """Inputs x and labels: class indices (binary, multiclass) or targets (regression, identity).

    `noise` is the standard deviation of Gaussian noise added to the inputs
    (to the target for regression_sine).
    """
    n0, n1 = _halves(samples)
    if name == "circle":  # a disc of class 1 inside a ring of class 0, radius 5
        x = np.concatenate([_polar(rng, n0, 0.0, 2.5), _polar(rng, n1, 3.5, 5.0)])
        labels = np.concatenate([np.ones(n0), np.zeros(n1)])
    elif name == "xor":  # class 1 where x1 and x2 share a sign
        x = rng.uniform(-5, 5, (samples, 2))
        x += np.where(x >= 0, 0.3, -0.3)  # keep points off the axes
        labels = (x[:, 0] * x[:, 1] > 0).astype(np.float64)
    elif name == "gaussian":
        x = np.concatenate([rng.normal(2, 1, (n0, 2)), rng.normal(-2, 1, (n1, 2))])
        labels = np.concatenate([np.ones(n0), np.zeros(n1)])
    elif name == "spiral":  # two interleaved arms
        parts, labs = [], []
        for k, (n, phase) in enumerate(((n0, 0.0), (n1, np.pi))):
            i = np.arange(n) / max(n, 1)
            r, t = 5 * i, 1.75 * 2 * np.pi * i + phase
            parts.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
            labs.append(np.full(n, 1.0 - k))
        x, labels = np.concatenate(parts), np.concatenate(labs)
    elif name == "moons":  # two interleaved half circles, centred and scaled to about ±4
        t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n1)
        upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
        lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
        x = (np.concatenate([upper, lower]) - [0.5, 0.25]) * 2.5
        labels = np.concatenate([np.ones(n0), np.zeros(n1)])
    elif name == "three_class":  # three blobs 120 degrees apart
        cls = rng.integers(0, 3, samples)
        angle = cls * 2 * np.pi / 3 + np.pi / 2
        x = np.stack([3 * np.cos(angle), 3 * np.sin(angle)], axis=1) + rng.normal(0, 1, (samples, 2))
        labels = cls.astype(np.float64)
    elif name == "regression_plane":
        x = rng.uniform(-5, 5, (samples, 2))
        labels = ((x[:, 0] + x[:, 1]) / 10)[:, None]
    elif name == "regression_sine":
        x = rng.uniform(-np.pi, np.pi, (samples, 1))
        y = np.sin(x)
        return x, y + rng.normal(0, noise, y.shape) if noise > 0 else y
    elif name in ("and", "or", "xor_gate"):
        x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        a, b = x[:, 0] > 0, x[:, 1] > 0
        labels = {"and": a & b, "or": a | b, "xor_gate": a ^ b}[name].astype(np.float64)
        return x, labels
    elif name == "encoder_8_3_8":
        x = np.eye(8)
        return x, x.copy()
    else:
        raise ValueError(f"unknown generator {name!r}")
    if noise > 0:
        x = x + rng.normal(0, noise, x.shape)
    return x, labels


def targets(labels: Array, task: str, n_out: int, low: float) -> Array:
    """Target rows: low/1 for binary, one-hot for multiclass, as given otherwise."""
    if task == "binary" and n_out == 1:
        return np.where(labels > 0.5, 1.0, low)[:, None]
    if task in ("binary", "multiclass"):
        return np.eye(n_out)[labels.astype(int)]
    return labels.reshape(len(labels), -1)


def split(x: Array, y: Array, train_fraction: float, rng: Rng) -> tuple[Array, Array, Array, Array]:
    """A shuffled train/test split."""
    perm = rng.permutation(len(x))
    k = max(1, int(round(train_fraction * len(x))))
    tr, te = perm[:k], perm[k:]
    return x[tr], y[tr], x[te], y[te]


def init_weights(
    layers: list[int], scheme: str, rng: Rng, scale: float = 0.5, bias: float = 0.0
) -> tuple[list[Array], list[Array]]:
    """xavier: U(±sqrt(6/(fan_in+fan_out))); he: N(0, 2/fan_in); uniform: U(±scale); zeros."""
    ws, bs = [], []
    for fan_in, fan_out in zip(layers[:-1], layers[1:]):
        shape = (fan_out, fan_in)
        if scheme == "xavier":
            lim = np.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-lim, lim, shape)
        elif scheme == "he":
            w = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        elif scheme == "uniform":
            w = rng.uniform(-scale, scale, shape)
        elif scheme == "zeros":
            w = np.zeros(shape)
        else:
            raise ValueError(f"unknown init scheme {scheme!r}")
        ws.append(w)
        bs.append(np.full(fan_out, float(bias)))
    return ws, bs
