"""Rows of numbers in a scenario (its given data): checked, converted and encoded a piece at a time.

10,000 rows of 64 numbers are megabytes. pydantic checking them as Python lists, or orjson
encoding them in one call, holds the interpreter for 100-200 ms, which stops every connection
even from a worker thread. In pieces of about PIECE_NUMBERS numbers, the event loop gets its turn
between.
"""

from typing import Annotated, Any, Protocol

import numpy as np
import orjson
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from app.codec import piece_rows


def matrix(v: Any, max_abs: float) -> np.ndarray:
    """Rows of numbers as a read-only float64 array (rows × columns).

    Takes a list of equal-length lists of JSON numbers (not booleans, not strings), or a 2-D
    float64 array; every value finite and within ±max_abs. Raises ValueError naming the first
    bad [row][column].
    """
    if isinstance(v, np.ndarray):
        if v.dtype != np.float64 or v.ndim != 2:
            raise ValueError(f"must be rows of numbers (a 2-D float64 array), got {v.dtype} with {v.ndim} dimensions")
        a = v.copy()
    else:
        if not isinstance(v, list) or not all(isinstance(r, list) for r in v):
            raise ValueError("must be a list of rows, each a list of numbers")
        width = len(v[0]) if v else 0
        a = np.empty((len(v), width))
        rows = piece_rows(width)
        for start in range(0, len(v), rows):
            piece = v[start : start + rows]
            for i, r in enumerate(piece, start):
                if len(r) != width:
                    raise ValueError(f"[{i}]: every row must have the same length ({width}), this one has {len(r)}")
                for j, x in enumerate(r):
                    if type(x) is not float and type(x) is not int:
                        raise ValueError(f"[{i}][{j}]: must be a number, got {type(x).__name__}")
            try:
                a[start : start + len(piece)] = piece
            except OverflowError:
                raise ValueError(f"rows {start}–{start + len(piece) - 1}: a number is too large") from None
    bad = ~(np.abs(a) <= max_abs)  # NaN too
    if bad.any():  # worded as pydantic words the other fields
        i, j = np.argwhere(bad)[0]
        v, bound = a[i, j], f"{max_abs:.0f}" if float(max_abs).is_integer() else f"{max_abs}"
        why = "a finite number" if not np.isfinite(v) else f"{'less' if v > 0 else 'greater'} than or equal to "
        raise ValueError(
            f"[{i}][{j}]: Input should be {why}{'' if why.startswith('a') else ('-' if v < 0 else '') + bound}"
        )
    a.flags.writeable = False  # a scenario never changes in place
    return a


def matrix_type(max_abs: float) -> Any:
    """A pydantic field type for matrix(): an array in Python, lists of lists in JSON."""
    return Annotated[
        np.ndarray,
        PlainValidator(lambda v: matrix(v, max_abs)),
        PlainSerializer(lambda a: a.tolist(), return_type=list[list[float]], when_used="json"),
        WithJsonSchema({"type": "array", "items": {"type": "array", "items": {"type": "number"}}}),
    ]


class XY(Protocol):
    x: np.ndarray
    y: np.ndarray


def encode_xy(
    x: np.ndarray, y: np.ndarray, extra: dict[str, Any] | None = None, limit: int | None = None
) -> bytes | None:
    """{"x": [...], "y": [...], **extra} as JSON, the same bytes orjson gives for the lists,
    encoded a piece (piece_rows) at a time; None once past `limit` bytes."""
    out, size = [b'{"x":['], 0
    for key, a in (("x", x), ("y", y)):
        if key == "y":
            out.append(b'],"y":[')
        rows = piece_rows(a.shape[1] if a.ndim == 2 else 1)
        for start in range(0, len(a), rows):
            piece = orjson.dumps(a[start : start + rows], option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
            out.append(piece if start == 0 else b"," + piece)
            size += len(piece) + 1
            if limit is not None and size > limit:
                return None
    out.append(b"]")
    for k, v in (extra or {}).items():
        out.append(b',"%s":%s' % (k.encode(), orjson.dumps(v)))
    out.append(b"}")
    return b"".join(out)


def encode_parts(parts: dict[str, XY | None], limit: int | None = None) -> bytes | None:
    """{"train": {"x": [...], "y": [...]}, "test": ...} as JSON (parts that are None left out),
    the same bytes as orjson gives for the lists; None once past `limit` bytes."""
    out, size = [], 0
    for name, pts in parts.items():
        if pts is None:
            continue
        piece = encode_xy(pts.x, pts.y, limit=None if limit is None else limit - size)
        if piece is None:
            return None
        out.append(b'"%s":%s' % (name.encode(), piece))
        size += len(piece)
    return b"{" + b",".join(out) + b"}"
