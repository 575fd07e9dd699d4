"""Legible everywhere a class looks: no two labels of the network view overlap or leave their
panel, at a phone's, a tablet's, a laptop's and a projector's width, in presenter mode, and
for the largest network; the phone scrolls only down."""

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Console, open_page
from tests.e2e.helpers import open_preset, wait_phase
from tests.e2e.labels import label_count, label_faults

pytestmark = pytest.mark.browser

SCREENS = [(390, 844), (768, 1024), (1280, 720), (1920, 1080)]
# the largest net the limits allow: 10 weight layers of 64 units (2 inputs, 1 output)
BIG = "&layers=2-" + "-".join(["64"] * 9) + "-1&act=" + ",".join(["tanh"] * 9) + ",sigmoid"


def stepped(page: Any, name: str, query: str = "") -> None:
    open_preset(page, name, query)
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")


def check(page: Any, what: str, artifacts: Path) -> None:
    # settled: no animation, nothing left to draw, and the panel's size drawn
    page.wait_for_function(
        polling=250,
        expression="() => { const s = window.deltaflow.store; const n = document.querySelector('[data-net]');"
        " return n.dataset.animating === 'false' && !s.dirty.size"
        " && Math.abs(n.querySelector('svg').getBoundingClientRect().height - n.clientHeight) < 1; }",
    )
    page.wait_for_timeout(100)
    faults = label_faults(page)
    page.screenshot(path=artifacts / f"labels-{what}.png")
    assert not faults, f"{what}: " + "; ".join(faults[:8])
    assert page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"], what


@pytest.mark.parametrize(("width", "height"), SCREENS)
@pytest.mark.parametrize("preset", ["circle", "worked-example", "spiral"])
def test_labels_never_overlap_at_any_width(
    browser: Any, server: str, artifacts: Path, width: int, height: int, preset: str
) -> None:
    con = Console()
    with open_page(browser, server, con, width, height) as page:
        stepped(page, preset, "&numbers=1")
        assert label_count(page) > 0
        check(page, f"{preset}-{width}", artifacts)
    assert not con.errors


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080)])
def test_labels_never_overlap_in_presenter_mode(
    browser: Any, server: str, artifacts: Path, width: int, height: int
) -> None:
    con = Console()
    with open_page(browser, server, con, width, height) as page:
        for preset in ("worked-example", "circle"):
            stepped(page, preset, "&numbers=1&presenter=1")
            check(page, f"presenter-{preset}-{width}", artifacts)
    assert not con.errors


def deep(units: int) -> str:
    """The query of a net of 10 weight layers, `units` wide (2 inputs, 1 output)."""
    hidden = "-".join([str(units)] * 9)
    return f"&layers=2-{hidden}-1&act=" + ",".join(["tanh"] * 9) + ",sigmoid"


def test_four_hidden_layers_and_ten_deep_keep_their_labels_apart(browser: Any, server: str, artifacts: Path) -> None:
    con = Console()
    with open_page(browser, server, con, 1280, 720) as page:
        stepped(page, "circle", "&layers=2-4-4-4-4-1&act=tanh,tanh,tanh,tanh,sigmoid&numbers=1")
        check(page, "four-hidden-1280", artifacts)
        stepped(page, "circle", deep(8) + "&numbers=1")
        check(page, "ten-deep-1280", artifacts)
        page.set_viewport_size({"width": 390, "height": 844})
        check(page, "ten-deep-390", artifacts)
    assert not con.errors


def test_the_largest_net_keeps_its_labels_apart(browser: Any, server: str, artifacts: Path) -> None:
    """10 layers of 64 units: 36,000 edges, slow to draw in a software-rendered browser, so
    its labels are checked as it opens (titles, inputs, the outputs' values)."""
    con = Console()
    with open_page(browser, server, con, 1280, 720) as page:
        page.set_default_timeout(180_000)
        page.goto(f"/?preset=circle{deep(64)}&numbers=1")
        units = "document.querySelectorAll('[data-net] [data-neuron]').length"
        page.wait_for_function(f"() => window.deltaflow?.store.layers.length === 11 && {units} === 579", polling=1000)
        check(page, "big-1280", artifacts)
    assert not con.errors
