"""docs/guide.md and its pictures: with DELTAFLOW_WRITE_GUIDE=1 this test takes the pictures
(docs/img/guide-*.png); always, it checks that the guide names only pictures that exist, that
each picture is named, and that the guide lists every key of the page's own help."""

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Console, open_page
from tests.e2e.helpers import open_preset, wait_phase

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide.md"
IMG = ROOT / "docs" / "img"
MAX_BYTES = 250_000  # a picture of the guide stays small


def shoot(page: Any, name: str) -> None:
    page.wait_for_function("() => !window.deltaflow.store.dirty.size")
    page.wait_for_timeout(300)
    page.screenshot(path=IMG / name, scale="css", animations="disabled")


def write_pictures(browser: Any, server: str) -> None:
    IMG.mkdir(exist_ok=True)
    con = Console()
    with open_page(browser, server, con, 1100, 680) as page:
        open_preset(page, "xor")
        page.keyboard.press("Shift+ArrowRight")
        wait_phase(page, "Update")
        shoot(page, "guide-step.png")
        open_preset(page, "three-class")
        page.locator('[data-classes] button[data-class="2"]').click()
        box = page.locator("[data-heatmap] canvas").bounding_box()
        page.mouse.click(box["x"] + 40, box["y"] + 40)
        page.wait_for_function("() => window.deltaflow.store.dataset.train.y.at(-1)[2] === 1")
        shoot(page, "guide-points.png")
    with open_page(browser, server, con, 1280, 720) as page:
        open_preset(page, "worked-example", "&presenter=1&numbers=1")
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        wait_phase(page, "Backward · layer 2")
        shoot(page, "guide-presenter.png")
    with open_page(browser, server, con, 390, 844) as page:
        open_preset(page, "circle")
        page.keyboard.press("Shift+ArrowRight")
        wait_phase(page, "Update")
        shoot(page, "guide-phone.png")
    assert not con.errors


def test_the_guide_and_its_pictures(browser: Any, server: str) -> None:
    if os.environ.get("DELTAFLOW_WRITE_GUIDE") == "1":
        write_pictures(browser, server)
    text = GUIDE.read_text()
    named = set(re.findall(r"\]\(img/([\w.-]+\.png)\)", text))
    assert named, "the guide shows no pictures"
    for name in named:
        f = IMG / name
        assert f.exists(), f"docs/guide.md shows img/{name}: run DELTAFLOW_WRITE_GUIDE=1 on this test"
        assert f.read_bytes()[:4] == b"\x89PNG" and f.stat().st_size <= MAX_BYTES, name
    unnamed = {f.name for f in IMG.glob("guide-*.png")} - named
    assert not unnamed, f"pictures the guide does not show: {sorted(unnamed)}"


def test_the_guide_lists_every_key_of_the_help() -> None:
    helps = (ROOT / "templates" / "_help.html").read_text()
    guide = GUIDE.read_text()
    for row in re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", helps):
        keys, does = row
        assert keys in guide, f"the guide does not list {keys}"
        if does != "this help":
            assert does in guide, f"the guide does not say what {keys} does: {does}"
