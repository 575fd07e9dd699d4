"""The preset picker's pictures: one SVG per preset, of its data's shape, drawn by the server."""

import math
import re
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from app import scenario as sc
from app.web import thumbs

SVG = "{http://www.w3.org/2000/svg}"


def circles(svg: str) -> list[tuple[float, float, float, str]]:
    """(cx, cy, r, fill) of every circle of a picture, parsed as XML."""
    out = []
    for c in ET.fromstring(svg).iter(SVG + "circle"):
        out.append((float(c.get("cx", 0)), float(c.get("cy", 0)), float(c.get("r", 0)), c.get("fill", "")))
    return out


def plane(cx: float, cy: float) -> tuple[float, float]:
    """A circle's centre back on the data plane (y up), from its pixels."""
    half = thumbs.S / 2 - 4
    return (cx - thumbs.S / 2) / half, (thumbs.S / 2 - cy) / half


@pytest.mark.parametrize("name", sc.preset_names())
def test_every_preset_has_a_picture_of_44_px(client: TestClient, name: str) -> None:
    r = client.get(f"/api/presets/{name}/thumb.svg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(r.text)
    assert root.tag == SVG + "svg" and root.get("width") == root.get("height") == "44"
    assert len(root) > 1  # a background and something on it
    for el in root.iter():
        for v in (el.get(k) for k in ("cx", "cy", "x", "y", "x1", "y1", "x2", "y2")):
            assert v is None or 0 <= float(v) <= 44, f"{name}: {el.tag} leaves the picture"


def test_an_unknown_preset_is_404_and_names_the_presets(client: TestClient) -> None:
    r = client.get("/api/presets/nope/thumb.svg")
    assert r.status_code == 404 and "no preset 'nope'" in r.json()["detail"] and "circle" in r.json()["detail"]


def test_the_circle_has_its_class_a_inside_and_class_b_around() -> None:
    dots = circles(thumbs.preset_picture("circle"))
    assert len(dots) == thumbs.N
    for cx, cy, _, fill in dots:
        rad = math.hypot(*plane(cx, cy))
        # pixels are rounded to 0.1 px: about 0.005 on the plane
        assert (rad <= 0.46) if fill == thumbs.A else (0.64 <= rad <= 0.96), (rad, fill)
    assert {f for *_, f in dots} == {thumbs.A, thumbs.B}


def test_xor_colours_a_point_by_the_sign_of_x_times_y() -> None:
    dots = circles(thumbs.preset_picture("xor"))
    assert len(dots) == 4  # the gate's four corners: the xor preset's data is the truth table
    for cx, cy, r, fill in dots:
        x, y = plane(cx, cy)
        assert r == 5 and fill == (thumbs.A if (x > 0) != (y > 0) else thumbs.B)


def test_three_classes_have_three_colours_and_given_data_draws_the_network() -> None:
    assert len({f for *_, f in circles(thumbs.preset_picture("three-class"))}) == 3
    worked = thumbs.preset_picture("worked-example")  # given data, 2-2-2: 6 units, 8 edges
    assert len(circles(worked)) == 6 and len(re.findall("<line ", worked)) == 8


def test_the_sequence_is_the_same_every_time_and_stays_in_0_1() -> None:
    a, b = thumbs.rng(7), thumbs.rng(7)
    xs = [a() for _ in range(1000)]
    assert xs == [b() for _ in range(1000)] and all(0 <= x < 1 for x in xs)
    assert thumbs.rng(0)() == thumbs.rng(1)()  # seed 0 is taken as 1, as a zero state would stay 0
