"""What the fuzzer sends: hypothesis strategies for valid commands (drawn against the session's
current state, so that they mostly make sense), mutations of them, and garbage.

Each message says whether it must be rejected whatever the server's parsing rules: not JSON,
not UTF-8, not an object, no known `type`, an unknown field, a required field missing. Every
other message is judged by the server's answer alone (it may accept numbers written as
strings today and refuse them tomorrow).
"""

import json
import math
import typing
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from app import protocol
from app import scenario as sc

MAX_BYTES = 2**20  # DELTAFLOW_MAX_MESSAGE_BYTES: larger messages close the connection

# the marker that ends every exchange (harness.py): never generated as a command itself
MARKER_POINTS, MARKER_SPAN = 5, 0.0123
MARKER = {"type": "slice", "layer": 1, "to": 0, "from": 0, "span": MARKER_SPAN, "points": MARKER_POINTS}

MODELS = {typing.get_args(m.model_fields["type"].annotation)[0]: m for m in protocol.Command.__subclasses__()}
FIELDS = {k: {f.alias or n for n, f in m.model_fields.items()} for k, m in MODELS.items()}
REQUIRED = {k: {f.alias or n for n, f in m.model_fields.items() if f.is_required()} for k, m in MODELS.items()}


@dataclass
class Msg:
    """One websocket message: text or a binary frame, and what it is."""

    data: str | bytes
    kind: str
    must_reject: bool = False

    @property
    def size(self) -> int:
        return len(self.data.encode("utf-8", "surrogatepass") if isinstance(self.data, str) else self.data)


class Raw(str):
    """JSON text written out as is (NaN, 1e400, a lone surrogate escape)."""


class Dup(list[tuple[str, Any]]):
    """A JSON object written with its keys in this order, repeats included."""


def dumps(v: Any) -> str:
    """JSON text of `v`, with Raw pieces and duplicate keys as given; iterative, so deep nesting is fine."""
    out: list[str] = []
    stack: list[Any] = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, Raw):
            out.append(str(x))
        elif isinstance(x, Dup | dict):
            items = list(x) if isinstance(x, Dup) else list(x.items())
            parts: list[Any] = [Raw("{")]
            for i, (k, val) in enumerate(items):
                parts += [Raw(("," if i else "") + json.dumps(k) + ":"), val]
            stack += reversed([*parts, Raw("}")])
        elif isinstance(x, list):
            parts = [Raw("[")]
            for i, val in enumerate(x):
                parts += [Raw(",")] if i else []
                parts.append(val)
            stack += reversed([*parts, Raw("]")])
        elif isinstance(x, float) and not math.isfinite(x):
            out.append("NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity"))
        else:
            out.append(json.dumps(x))
    return "".join(out)


def must_reject(doc: Any) -> bool:
    """Whether a parsed document is refused under any parsing rules: no known type, an unknown
    field, a required field missing."""
    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str) or doc["type"] not in MODELS:
        return True
    keys = set(doc)
    return bool(keys - FIELDS[doc["type"]] - {"type"}) or bool(REQUIRED[doc["type"]] - keys)


# --- valid commands against the current state ---------------------------------------------------
# strategies built once: hypothesis validates each new strategy object, which costs more than the draw
TYPES = st.sampled_from(protocol.COMMAND_TYPES)
PRESETS = st.sampled_from(sc.preset_names())
COUNTS = st.integers(1, 20) | st.sampled_from([100, 1000, protocol.MAX_STEP_COUNT])
PLAYS = st.builds(lambda s: {"mode": "animate", "speed": s}, st.floats(0.1, 120)) | st.builds(
    lambda f: {"mode": "train", "fps": f}, st.integers(1, 60)
)
REGS = ["none", "l1", "l2"]
SETS = st.one_of(
    st.builds(lambda v: {"learning_rate": v}, st.floats(1e-4, 2.0)),
    st.builds(lambda v: {"batch_size": v}, st.integers(1, 64)),
    st.sampled_from([{"type": "sgd"}, {"type": "momentum", "momentum": 0.5}, {"type": "adam"}, {"type": "lbfgs"}]).map(
        lambda o: {"optimizer": o}
    ),
    st.builds(lambda t, r: {"regularization": {"type": t, "rate": r}}, st.sampled_from(REGS), st.floats(0, 0.1)),
)
BRANCH_CHANGES = SETS | st.builds(lambda v: {"seed": v}, st.integers(0, 1000))
VALUES = st.floats(-10, 10)
SPANS = st.floats(0.01, 5)
POINTS = st.integers(3, 61).filter(lambda p: p != MARKER_POINTS)
ANY_UNIT = st.integers(0, sc.LIMITS["max_units"] - 1)
ANY_LAYER = st.integers(1, sc.LIMITS["max_weight_layers"])


def shape(state: dict[str, Any]) -> list[int]:
    layers: list[int] = state["scenario"]["layers"]
    return layers


RAW = st.integers(0, 2**16)


@st.composite
def valid_command(draw: st.DrawFn, state: dict[str, Any]) -> dict[str, Any]:
    """A command that is well formed, with indices that mostly fit the current network.

    Every draw has the same shape whatever the state (a raw number, then fitted to the state),
    so hypothesis sees the same choices on a replay."""
    n = shape(state)
    h = state["history"]
    kind = draw(TYPES)
    fits = draw(st.integers(0, 3)) > 0
    layer = 1 + draw(RAW) % (len(n) - 1) if fits else draw(ANY_LAYER)
    fits = layer < len(n)

    def unit(lay: int) -> int:
        return draw(RAW) % n[lay] if fits else draw(ANY_UNIT)

    if kind == "load":
        if draw(st.booleans()):
            return {"type": "load", "preset": draw(PRESETS)}
        doc = sc.preset(draw(PRESETS))
        doc["seed"] = draw(st.integers(0, 1000))
        if "generator" in doc["data"] and draw(st.booleans()):
            doc["data"]["samples"] = draw(st.integers(4, 600))
        return {"type": "load", "scenario": doc}
    if kind == "step":
        return {"type": "step", "count": draw(COUNTS)}
    if kind == "play":
        return {"type": "play", **draw(PLAYS)}
    if kind == "seek":
        first = max(0, h["first"] - 2)
        return {"type": "seek", "step": first + draw(RAW) % (h["last"] + 3 - first)}
    if kind == "set":
        return {"type": "set", **draw(SETS)}
    if kind in ("set_weight", "slice"):
        cmd = {"type": kind, "layer": layer, "to": unit(layer), "from": unit(layer - 1)}
        if kind == "set_weight":
            return {**cmd, "value": draw(VALUES)}
        return {**cmd, "span": draw(SPANS), "points": draw(POINTS)}
    if kind == "set_bias":
        return {"type": kind, "layer": layer, "unit": unit(layer), "value": draw(VALUES)}
    if kind == "select":
        return {"type": "select", "example": draw(st.integers(0, 12))}
    if kind == "branch":
        first = h["first"]
        change = draw(BRANCH_CHANGES)
        return {"type": "branch", "from_step": first + draw(RAW) % (h["last"] + 2 - first), "change": change}
    if kind in ("branch_keep", "branch_drop"):
        return {"type": kind, "branch": draw(st.sampled_from(["a", "b"]))}
    return {"type": kind}


# --- mutations -----------------------------------------------------------------------------------
NUMBERS = (
    st.sampled_from(
        [Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1e400"), Raw("-1e400"), 2**64, -(2**63), 10**30, -1, -0.0]
    )
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers()
)
SCALARS = st.none() | st.booleans() | NUMBERS | st.text(max_size=40)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@st.composite
def nested(draw: st.DrawFn) -> Any:
    """A value nested deeply: within and beyond the parser's depth limit."""
    depth = draw(st.integers(2, 3000))
    pattern = draw(st.sampled_from(["[]", "{}", "[]{}"]))  # lists, objects, or the two in turn
    v: Any = draw(SCALARS)
    for i in range(depth):
        v = [v] if pattern[(2 * i) % len(pattern)] == "[" else {"a": v}
    return v


WRONG = st.one_of(
    JSON,
    NUMBERS,
    nested(),
    st.sampled_from([1000, 50_000]).map(lambda k: "x" * k),  # long strings
    st.sampled_from([Raw('"\\ud800"'), Raw('"\\udfff x"'), "\u0000", "\u202e", "🧠" * 50]),
)


OPS = st.sampled_from(["drop", "extra", "wrong", "retype", "stringify", "bool", "dup", "notype"])
NAMES = st.text(min_size=1, max_size=12)
RETYPES = TYPES | st.text(max_size=12) | JSON


@st.composite
def mutated(draw: st.DrawFn, state: dict[str, Any]) -> Msg:
    """A valid command changed in one to three ways."""
    cmd: Any = dict(draw(valid_command(state)))
    how = []
    for _ in range(draw(st.integers(1, 3))):
        op = draw(OPS)
        how.append(op)
        keys = [k for k in cmd if k != "type"] if isinstance(cmd, dict) else []
        if op == "drop" and keys:
            del cmd[draw(st.sampled_from(keys))]
        elif op == "extra":
            cmd[draw(NAMES)] = draw(JSON)
        elif op == "wrong" and keys:
            cmd[draw(st.sampled_from(keys))] = draw(WRONG)
        elif op == "retype":
            cmd["type"] = draw(RETYPES)
        elif op == "stringify" and keys:  # numbers as strings
            k = draw(st.sampled_from(keys))
            cmd[k] = json.dumps(cmd[k]) if isinstance(cmd[k], int | float) else cmd[k]
        elif op == "bool" and keys:  # booleans as numbers and numbers as booleans
            k = draw(st.sampled_from(keys))
            cmd[k] = bool(cmd[k]) if isinstance(cmd[k], int | float) and not isinstance(cmd[k], bool) else cmd[k]
        elif op == "dup" and isinstance(cmd, dict) and cmd:  # a key twice, the two values in either order
            k = draw(st.sampled_from(list(cmd)))
            other = draw(JSON)
            pairs = list(cmd.items())
            cmd = Dup([*pairs, (k, other)] if draw(st.booleans()) else [(k, other), *pairs])
            break
        elif op == "notype" and isinstance(cmd, dict):
            cmd.pop("type", None)
    text = dumps(cmd)
    try:
        doc = json.loads(text, parse_constant=lambda c: None)  # NaN and co. parse; orjson refuses them anyway
        reject = must_reject(doc) and not isinstance(cmd, Dup)
    except (ValueError, RecursionError):
        reject = True
    binary = draw(st.integers(0, 9)) == 0
    return Msg(text.encode("utf-8", "surrogatepass") if binary else text, "mutated:" + "+".join(how), reject)


# --- garbage ---------------------------------------------------------------------------------------
GARBAGE = st.sampled_from(["text", "bytes", "utf8", "json", "deep", "long", "surrogate", "text", "json", "oversize"])
CUTS = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"])


@st.composite
def garbage(draw: st.DrawFn) -> Msg:
    """Not a command at all: any text, bytes, invalid UTF-8, other JSON, deep nesting, long
    strings, and messages over the size limit."""
    kind = draw(GARBAGE)
    if kind == "text":
        data: str | bytes = draw(st.text(max_size=200))
    elif kind == "bytes":
        data = draw(st.binary(max_size=200))
    elif kind == "utf8":  # a command with a byte that cannot start or continue UTF-8
        cut = draw(CUTS)
        data = b'{"type": "pause", "x": "' + cut + b'"}'
    elif kind == "json":
        data = dumps(draw(JSON))
    elif kind == "deep":
        n = draw(st.integers(1, 3000) | st.sampled_from([100_000]))
        data = draw(st.sampled_from(["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n, "[" * n]))
    elif kind == "long":
        n = draw(st.sampled_from([10_000, 100_000, MAX_BYTES - 1000]))
        data = draw(st.sampled_from([f'{{"type": "{"p" * n}"}}', f'{{"type": "load", "preset": "{"a" * n}"}}']))
    elif kind == "oversize":  # closes the connection (1009); the session stays
        data = f'{{"type": "load", "preset": "{"a" * MAX_BYTES}"}}'
    else:
        data = '{"type": "pause\ud800"}'
    if isinstance(data, bytes):
        reject = True
        try:
            reject = must_reject(json.loads(data.decode("utf-8")))
        except (ValueError, RecursionError):
            pass
    else:
        try:
            reject = must_reject(json.loads(data))
        except (ValueError, RecursionError):
            reject = True
    return Msg(data, "garbage:" + kind, reject)


KINDS = st.sampled_from(["valid"] * 3 + ["mutated"] * 4 + ["garbage"] * 2)


@st.composite
def message(draw: st.DrawFn, state: dict[str, Any]) -> Msg:
    """One message of any kind: a third valid commands, the rest mutations and garbage."""
    kind = draw(KINDS)
    if kind == "valid":
        cmd = draw(valid_command(state))
        return Msg(json.dumps(cmd), "valid:" + cmd["type"])
    return draw(mutated(state)) if kind == "mutated" else draw(garbage())
