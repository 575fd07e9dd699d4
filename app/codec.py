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
