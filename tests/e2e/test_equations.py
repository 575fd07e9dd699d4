"""Equations wrap instead of clipping: in presenter mode on a projector (1920×1080) and a
laptop (1280×720), and on a phone (390 px), no equation of the explain panel is wider than
the panel, and the panel never scrolls sideways."""

from typing import Any

import pytest

from tests.e2e.conftest import Console, open_page
from tests.e2e.helpers import open_preset, wait_phase

pytestmark = pytest.mark.browser

SCREENS = [(1920, 1080, "&presenter=1"), (1280, 720, "&presenter=1"), (390, 844, "")]
# wide sums (8 terms) at the most digits, and a softmax over three classes
NETS = [
    ("circle", "&layers=2-8-8-1&act=tanh,tanh,tanh&digits=9"),
    ("three-class", "&layers=2-8-3&digits=9"),
]
PICKS = [
    {"kind": "neuron", "l": 1, "j": 0},
    {"kind": "neuron", "l": 2, "j": 1},
    {"kind": "neuron", "l": 0, "j": 0},
    {"kind": "weight", "l": 2, "j": 0, "i": 3},
    {"kind": "bias", "l": 2, "j": 0},
]

MEASURE = """() => {
  const body = document.querySelector('[data-explain-body]');
  const box = body.getBoundingClientRect();
  const wide = [];
  for (const m of body.querySelectorAll('math')) {
    const r = m.getBoundingClientRect();
    if (r.width === 0) continue;
    // the equation's own width (what it would scroll), and where it sits in the panel
    if (m.scrollWidth > Math.ceil(r.width) + 1 || r.right > box.left + body.clientWidth + 1 || r.left < box.left - 1)
      wide.push(`${Math.round(Math.max(r.width, m.scrollWidth))}px of ${body.clientWidth}px: `
        + m.textContent.slice(0, 50));
  }
  return { n: body.querySelectorAll('math').length, scroll: body.scrollWidth - body.clientWidth, wide };
}"""


def shown(page: Any, pick: dict[str, Any]) -> dict[str, Any]:
    page.evaluate("t => window.deltaflow.actions.select(t)", pick)
    page.wait_for_function("() => !window.deltaflow.store.dirty.size")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    found: dict[str, Any] = page.evaluate(MEASURE)
    return found


@pytest.mark.parametrize("screen", SCREENS, ids=[f"{w}x{h}{'-presenter' if q else ''}" for w, h, q in SCREENS])
def test_no_equation_is_wider_than_its_panel(browser: Any, server: str, screen: Any, artifacts: Any) -> None:
    width, height, mode = screen
    con = Console()
    with open_page(browser, server, con, width, height) as page:
        for name, query in NETS:
            open_preset(page, name, query + mode)
            page.keyboard.press("Shift+ArrowRight")
            wait_phase(page, "Update")
            for pick in PICKS:
                got = shown(page, pick)
                what = f"{name} {pick} at {width}x{height}{mode}"
                if got["wide"] or got["scroll"] > 0:
                    page.screenshot(path=artifacts / f"equations-{name}-{width}.png")
                assert got["n"] > 0, what
                assert got["scroll"] <= 0, f"{what}: the panel scrolls sideways by {got['scroll']}px"
                assert not got["wide"], f"{what}: " + "; ".join(got["wide"][:4])
    assert not con.errors, con.errors
