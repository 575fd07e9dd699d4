"""What a class sees: the title follows the architecture, the output plane only for a plane,
the worked example says it trains biases, presenter mode keeps what a teacher reaches for,
and the phone is a viewer of its own."""

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Console, open_page
from tests.e2e.helpers import open_preset, wait_phase

pytestmark = pytest.mark.browser

STORE = "window.deltaflow.store"


def test_the_title_follows_the_architecture_in_use(page: Any) -> None:
    open_preset(page, "circle")
    title = page.locator("[data-title]")
    assert title.text_content() == "Circle (2-4-2-1 tanh)"
    page.locator('[data-arch="add"]').click()
    page.wait_for_function(f"() => {STORE}.layers.length === 5")
    page.wait_for_function("() => document.querySelector('[data-title]').textContent === 'Circle (2-4-2-2-1 tanh)'")


def test_the_output_plane_shows_only_for_a_plane(page: Any) -> None:
    open_preset(page, "encoder-8-3-8")
    page.wait_for_function("() => document.querySelector('[data-examples] table tr')")
    assert not page.locator("[data-heatmap]").is_visible()
    assert not page.locator("[data-classes]").is_visible()
    assert page.locator("[data-examples]").is_visible()
    open_preset(page, "circle")
    assert page.locator("[data-heatmap] canvas").is_visible()
    assert page.locator("[data-classes]").is_visible()


def test_the_worked_example_says_it_trains_biases_and_offers_the_fixed_variant(page: Any) -> None:
    open_preset(page, "worked-example")
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    note = page.locator("[data-trains-biases]")
    assert "trains the biases" in note.text_content()
    note.locator("button").click()
    page.wait_for_function(f"() => {STORE}.server.scenario.name === 'worked-example-fixed-bias'")
    # the panel redraws at the page's next frame after the new state
    page.wait_for_function("() => !document.querySelector('[data-trains-biases]')")
    # the link is pushed once its search is made; Back before that would leave the page
    page.wait_for_function("() => location.search.includes('preset=worked-example-fixed-bias')")
    page.go_back()  # the worked example is one Back away
    page.wait_for_function(f"() => {STORE}.server.scenario.name === 'worked-example'")


def test_presenter_mode_on_a_projector_keeps_presets_speed_and_legend(
    browser: Any, server: str, artifacts: Path
) -> None:
    con = Console()
    with open_page(browser, server, con, 1920, 1080) as page:
        open_preset(page, "circle", "&presenter=1")
        page.keyboard.press("Shift+ArrowRight")
        wait_phase(page, "Update")
        for sel in (
            '[data-preset="xor"]',
            "[data-speed]",
            ".outputs .legend",
            "[data-gradnorm] canvas",
            "[data-chart] canvas",
        ):
            assert page.locator(sel).first.is_visible(), sel
        # type readable from the back of a room: the page's own, and the gradient strip's rows
        size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.net-svg')).fontSize)")
        assert size >= 16
        rows = page.evaluate("() => document.querySelector('[data-gradnorm] canvas').getBoundingClientRect().height")
        assert rows >= 3 * 20  # three layers, each at least a 16 px line
        page.locator('[data-preset="xor"]').click()
        page.wait_for_function(f"() => {STORE}.server.scenario.name === 'xor'")
        page.screenshot(path=artifacts / "presenter-1920.png")
    assert not con.errors


def test_the_phone_is_a_viewer_of_its_own(browser: Any, server: str, artifacts: Path) -> None:
    con = Console()
    with open_page(browser, server, con, 390, 844) as page:
        open_preset(page, "circle")
        page.keyboard.press("Shift+ArrowRight")
        wait_phase(page, "Update")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        for sel in ("[data-net] svg", "[data-phase]", "[data-explain-body]"):
            box = page.locator(sel).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, sel
        page.screenshot(path=artifacts / "phone-390.png", full_page=True)
    assert not con.errors


def test_every_control_answers_before_the_server_does(page: Any) -> None:
    open_preset(page, "circle")
    # a click, then the very next frame: the page shows it is working, whatever the server's pace
    shown = page.evaluate(
        """() => new Promise(done => {
          document.querySelector('[data-preset="spiral"]').click();
          const s = window.deltaflow.store;
          const seen = () => [document.querySelector('[data-conn]').textContent, s.server.scenario.name];
          requestAnimationFrame(() => requestAnimationFrame(() => done(seen())));
        })"""
    )
    # the page says it is working on the load, or (a quick server) already shows its effect
    assert shown[0].startswith("working: load") or shown[1] == "spiral", shown
    page.wait_for_function(f"() => {STORE}.server.scenario.name === 'spiral'")
    page.wait_for_function("() => document.querySelector('[data-conn]').textContent === 'connected'")


@pytest.mark.parametrize("preset", ["circle", "spiral", "encoder-8-3-8", "three-class", "worked-example"])
def test_numbers_show_on_every_preset_or_say_why(page: Any, preset: str) -> None:
    open_preset(page, preset, "&numbers=1")
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    page.wait_for_function("() => !window.deltaflow.store.dirty.size")
    hidden_values = page.evaluate(
        """() => [...document.querySelectorAll('[data-net] [data-neuron] .val')]
          .filter(t => !t.closest('[data-neuron^="0:"]'))
          .filter(t => t.getAttribute('visibility') !== 'hidden' && !t.classList.contains('clutter')).length"""
    )
    why = page.evaluate("() => getComputedStyle(document.querySelector('[data-numbers-why]')).visibility")
    assert hidden_values > 0 or why == "visible", preset
