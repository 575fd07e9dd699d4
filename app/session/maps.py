"""What each neuron computes over the input plane, packed as one binary message.

Layout (little-endian), documented in docs/protocol.md: b"DFM1", uint32 seq, uint32 step,
uint16 count, uint16 0; then per map uint16 layer, unit, res, 0, float32 lo, hi (infinite
beyond float32's range), and
res*res uint8 rows from the top (x2 = max), each left to right (x1 = min to max).
"""

import struct

import numpy as np

from app.nn.network import Network

OUTPUT_RES = 100
HEADER = struct.Struct("<4sIIHH")
MAP_HEADER = struct.Struct("<HHHHff")


def grid(extent: list[float], res: int = OUTPUT_RES) -> np.ndarray:
    """res*res points, row by row from the top, as rows of (x1, x2)."""
    x1 = np.linspace(extent[0], extent[1], res)
    x2 = np.linspace(extent[3], extent[2], res)
    g1, g2 = np.meshgrid(x1, x2)
    return np.stack([g1.ravel(), g2.ravel()], axis=1)


def hidden_stride(hidden: int) -> int:
    """Subsample hidden maps so a frame stays small: 50x50, then 25x25, then 10x10."""
    return 2 if hidden <= 16 else 4 if hidden <= 100 else 10


def quantize(v: np.ndarray) -> tuple[float, float, bytes]:
    lo, hi = float(v.min()), float(v.max())
    if not hi > lo:  # a constant map (or NaN): all zeros, lo == hi
        return lo, lo, bytes(v.size)
    q = np.rint((v - lo) * (255.0 / (hi - lo))).astype(np.uint8)
    return lo, hi, q.tobytes()


def _float32(*v: float) -> list[float]:
    """The header's float32s: beyond float32's range (a run on its way to diverging), infinite."""
    with np.errstate(over="ignore"):
        return [float(np.float32(x)) for x in v]


def pack(net: Network, points: np.ndarray, seq: int, step: int) -> bytes:
    """Every hidden neuron's map, then every output unit's, over the grid `points`."""
    _, as_ = net.forward(points)
    depth = net.depth
    hidden = sum(net.layers[1:-1])
    stride = hidden_stride(hidden)
    res_h = OUTPUT_RES // stride
    parts = [HEADER.pack(b"DFM1", seq, step, hidden + net.layers[-1], 0)]
    for l in range(1, depth + 1):
        a = as_[l]
        if l < depth:
            a = a.reshape(OUTPUT_RES, OUTPUT_RES, -1)[::stride, ::stride].reshape(res_h * res_h, -1)
        res = OUTPUT_RES if l == depth else res_h
        for j in range(a.shape[1]):
            lo, hi, q = quantize(a[:, j])
            parts.append(MAP_HEADER.pack(l, j, res, 0, *_float32(lo, hi)))
            parts.append(q)
    return b"".join(parts)
