"""Small SVG pictures of each preset's data for the preset picker (44×44 px).

A picture says what the data looks like, not what it is: points in the generator's shape from a
fixed pseudo-random sequence, the four points of a gate, the encoder's diagonal, or, for given
data, the network itself. The page shows them as images, so it needs no script to draw them.
"""

import math
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from app import scenario as sc

S = 44  # px, square
A = "rgb(230,97,1)"
B = "rgb(33,102,172)"
C = "rgb(0,158,115)"
N = 70  # points of a generated shape
GATES = {"and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "xor_gate": [0, 1, 1, 0]}

Point = tuple[float, float, str]


def rng(seed: int) -> Callable[[], float]:
    """Uniform numbers in [0, 1) from a 32-bit linear congruential generator (Numerical
    Recipes' constants); the same sequence on every server."""
    s = (seed & 0xFFFFFFFF) or 1

    def r() -> float:
        nonlocal s
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        return s / 2**32

    return r


def shape(name: str, r: Callable[[], float]) -> Iterator[Point]:
    """N points (x, y in about [-1, 1], colour) in the shape of generator `name`."""

    def g() -> float:  # a rough bell, from three uniforms
        return (r() + r() + r() - 1.5) * 0.5

    for k in range(N):
        t = r() * 2 * math.pi
        if name == "circle":
            inner = k % 2 == 0
            rad = r() * 0.45 if inner else 0.65 + r() * 0.3
            yield rad * math.cos(t), rad * math.sin(t), A if inner else B
        elif name in ("xor", "regression_plane"):
            x = r() * 2 - 1
            y = r() * 2 - 1
            yield x, y, A if (x * y > 0 if name == "xor" else x + y > 0) else B
        elif name == "gaussian":
            side = 1 if k % 2 else -1
            x = 0.45 * side + g()
            yield x, 0.45 * side + g(), A if side > 0 else B
        elif name == "three_class":
            c = k % 3
            a = c * 2 * math.pi / 3 + 0.5
            x = 0.55 * math.cos(a) + g() * 0.8
            yield x, 0.55 * math.sin(a) + g() * 0.8, (A, B, C)[c]
        elif name == "spiral":
            u = k / N
            turn = math.pi if k % 2 else 0.0
            a = u * 3 * math.pi + turn
            yield 0.9 * u * math.cos(a), 0.9 * u * math.sin(a), A if turn else B
        elif name == "moons":
            a = r() * math.pi
            if k % 2 == 0:
                yield math.cos(a) * 0.6 - 0.25, math.sin(a) * 0.6 - 0.15, A
            else:
                yield 0.25 - math.cos(a) * 0.6, 0.15 - math.sin(a) * 0.6, B
        elif name == "regression_sine":
            x = r() * 2 - 1
            yield x, 0.7 * math.sin(x * math.pi) + g() * 0.1, B


def px(v: float) -> str:
    return f"{v:.1f}".removesuffix(".0")


def dot(x: float, y: float, colour: str, rad: float = 1.7) -> str:
    """A point of the data plane (y up) as a circle on the picture."""
    half = S / 2 - 4
    return f'<circle cx="{px(S / 2 + x * half)}" cy="{px(S / 2 - y * half)}" r="{rad}" fill="{colour}"/>'


def network(layers: list[int]) -> list[str]:
    """Given data: the network, a column of units per layer, every edge drawn."""
    n = layers or [2, 2]

    def at(l: int, j: int) -> tuple[str, str]:
        return px(8 + l * (S - 16) / (len(n) - 1)), px(S / 2 + (j - (n[l] - 1) / 2) * 12)

    out = []
    for l in range(1, len(n)):
        for j in range(n[l]):
            for i in range(n[l - 1]):
                (x1, y1), (x2, y2) = at(l - 1, i), at(l, j)
                out.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#999"/>')
    for l, k in enumerate(n):
        for j in range(k):
            x, y = at(l, j)
            out.append(f'<circle cx="{x}" cy="{y}" r="3.5" fill="{A if l == len(n) - 1 else B}"/>')
    return out


def picture(doc: dict[str, Any]) -> str:
    """The SVG of a scenario document's picture."""
    gen = (doc.get("data") or {}).get("generator")
    parts: list[str]
    if gen in GATES:
        corners = [(-0.6, -0.6), (-0.6, 0.6), (0.6, -0.6), (0.6, 0.6)]
        parts = [dot(x, y, A if GATES[gen][k] else B, 5) for k, (x, y) in enumerate(corners)]
    elif gen == "encoder_8_3_8":
        w = px((S - 8) / 8)
        xs = [px(4 + k * (S - 8) / 8) for k in range(8)]
        parts = [f'<rect x="{x}" y="{x}" width="{w}" height="{w}" fill="{A}"/>' for x in xs]
        parts.append(f'<rect x="4" y="4" width="{S - 8}" height="{S - 8}" fill="none" stroke="#999"/>')
    elif gen:
        parts = [dot(x, y, c) for x, y, c in shape(gen, rng(7))]
    else:
        parts = network(doc.get("layers") or [])
    head = f'<svg xmlns="http://www.w3.org/2000/svg" width="{S}" height="{S}" viewBox="0 0 {S} {S}">'
    return head + f'<rect width="{S}" height="{S}" fill="#fff"/>' + "".join(parts) + "</svg>"


@lru_cache(maxsize=64)
def preset_picture(name: str) -> str:
    """The SVG of preset `name`'s picture. Raises KeyError for a name that is no preset."""
    return picture(sc.preset(name))
