"""The wire format's two directions, apart from the models: strict JSON in, one encoder out.

Commands arrive as JSON text that must mean one thing to every parser; events leave as JSON
bytes, numpy arrays included (docs/protocol.md).
"""

import json
import re
from collections.abc import Collection
from typing import Any

import numpy as np
import orjson


class ProtocolError(ValueError):
    """A rejected command: becomes an `error` event."""

    def __init__(self, code: str, message: str, request: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.request = code, message, request

    def event(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "message": self.message, "request": self.request}


# Every JSON string, and whether a colon follows it (then it is a key). Scanning valid JSON
# from the start, each match begins at an opening quote: outside strings there are no quotes.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"(\s*:)?', re.S)


def _count_keys(text: bytes) -> int:
    found = _STRING.findall(text)
    return len(found) - found.count(b"")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for k, _ in pairs:
        if k in seen:
            raise ProtocolError("duplicate_key", f"key {k!r} appears twice in one object; give each key once")
        seen.add(k)
    return dict(pairs)


def strict_loads(text: str | bytes, known: Collection[str]) -> Any:
    """Text of one message -> its JSON value, or ProtocolError naming the problem (its
    `request` is the message's "type" when that is one of `known`).

    Refused: invalid UTF-8 or JSON, NaN and infinities, nesting deeper than orjson writes, and
    a key repeated in any object (JSON parsers disagree on which copy wins).
    """
    try:
        raw = text.encode() if isinstance(text, str) else text
    except UnicodeEncodeError as e:  # a lone surrogate: no UTF-8 text holds one
        raise ProtocolError("invalid_json", f"message is not valid UTF-8 text: {e.reason}") from None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ProtocolError("invalid_json", f"message is not valid JSON: {e}") from None
    # orjson keeps the last of repeated keys: a key lost on the way shows as fewer keys in
    # its re-encoding (~2 us on a typical command, ~5 ms on 1 MiB; json's hook takes 30 ms)
    kind = doc.get("type") if isinstance(doc, dict) else None
    request = kind if isinstance(kind, str) and kind in known else None
    try:
        again = orjson.dumps(doc)
    except TypeError:  # orjson writes at most 254 levels of nesting; no command has more than 4
        raise ProtocolError("invalid_json", "the message is nested too deeply to be a command", request) from None
    if _count_keys(raw) != _count_keys(again):
        try:
            json.loads(raw, object_pairs_hook=_refuse_duplicates)  # names the key
        except ProtocolError as e:
            raise ProtocolError(e.code, e.message, request) from None
        except ValueError:  # json's own limits (e.g. digits of an int)
            pass
        raise ProtocolError("duplicate_key", "a key appears twice in one object; give each key once", request)
    return doc


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):  # orjson serializes only C-contiguous arrays itself
        return np.ascontiguousarray(obj).tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__}")


def encode(event: dict[str, Any]) -> bytes:
    """One event -> JSON bytes, numpy arrays included; NaN and inf become null."""
    return orjson.dumps(event, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)


# orjson holds the interpreter for a whole call: ~0.3 ms for this many float64s on this class of
# machine. A worker thread encoding megabytes in pieces this size lets the event loop in between.
PIECE_NUMBERS = 4096


def piece_rows(width: int) -> int:
    """Rows of `width` numbers in one piece of at most PIECE_NUMBERS (at least one row)."""
    return max(1, PIECE_NUMBERS // max(1, width))


def array_json(a: np.ndarray) -> bytes:
    """encode(a), byte for byte, written PIECE_NUMBERS numbers at a time along its first axis."""
    if a.ndim == 0 or a.size <= PIECE_NUMBERS:
        return encode(a)  # type: ignore[arg-type]
    width = a.size // len(a)
    if width > PIECE_NUMBERS:  # a row is itself too large: in pieces of its own
        return b"[" + b",".join(array_json(row) for row in a) + b"]"
    rows = piece_rows(width)
    return b"[" + b",".join(encode(a[k : k + rows])[1:-1] for k in range(0, len(a), rows)) + b"]"  # type: ignore[arg-type]


def _in_pieces(v: Any) -> Any:
    if isinstance(v, np.ndarray) and v.size > PIECE_NUMBERS:
        return orjson.Fragment(array_json(v))
    if isinstance(v, dict):
        return {k: _in_pieces(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_in_pieces(x) for x in v]
    return v


def encode_in_pieces(event: dict[str, Any]) -> bytes:
    """encode(event), byte for byte, with every array over PIECE_NUMBERS numbers encoded a piece
    at a time: for worker threads encoding large events (a traced step of 10,000 examples), so
    that no single call holds the interpreter for milliseconds."""
    return encode(_in_pieces(event))


class ArraysJson:
    """A list of float64 arrays as JSON, encoded in pieces once per change of their bits.

    A worker thread warms it after a large step or build, and the event loop then copies bytes
    instead of encoding (the 41,000 weights of the largest net take ~2 ms to encode). Small or
    other lists are given back as they are, for encode() to write.
    """

    def __init__(self) -> None:
        self.cached: tuple[list[np.ndarray], bytes, orjson.Fragment] | None = None  # (bits, JSON), set at once

    def __getstate__(self) -> dict[str, Any]:  # a Fragment does not pickle: its bytes do
        return {"cached": self.cached and self.cached[:2]}

    def __setstate__(self, state: dict[str, Any]) -> None:
        cached = state["cached"]
        self.cached = None if cached is None else (*cached, orjson.Fragment(cached[1]))

    def __call__(self, arrays: list[np.ndarray]) -> Any:
        if sum(a.size for a in arrays) <= PIECE_NUMBERS or any(a.dtype != np.float64 for a in arrays):
            return arrays
        cached = self.cached
        if cached is not None and len(cached[0]) == len(arrays):
            bits = cached[0]  # bit for bit: -0.0 and NaN encode differently from 0.0 and each other
            if all(a.shape == b.shape and np.array_equal(a.view(np.uint64), b) for a, b in zip(arrays, bits)):
                return cached[2]
        json = b"[" + b",".join(array_json(a) for a in arrays) + b"]"
        self.cached = [a.view(np.uint64).copy() for a in arrays], json, orjson.Fragment(json)
        return self.cached[2]
