"""A classroom in two browsers: the presenter starts a room, a viewer follows it read-only, then forks."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Console, open_page
from tests.e2e.helpers import PANEL_DRAWS, SET_SPEED, fmt, open_preset, wait_phase


@pytest.fixture
def viewer_page(browser: Any, server: str) -> Iterator[Any]:
    """A second browser, as a student's phone: its own context and storage."""
    console = Console()
    with open_page(browser, server, console, 390, 844) as pg:
        yield pg
    assert not console.errors, "\n".join(console.errors)


def server_step(page: Any) -> int:
    return int(page.evaluate("() => window.deltaflow.store.server.step"))


def test_a_viewer_follows_the_presenter_then_explores_alone(page: Any, viewer_page: Any, artifacts: Any) -> None:
    open_preset(page, "worked-example")
    page.locator('[data-action="start-room"]').click()
    page.wait_for_function("() => window.deltaflow.store.room?.role === 'presenter'")
    code = page.locator("[data-room-code]").text_content()
    assert code and len(code) == 6
    page.wait_for_selector("[data-room-qr] svg")
    assert page.evaluate("() => location.pathname") == f"/r/{code}"

    v = viewer_page
    v.goto(f"/r/{code.lower()}")
    v.wait_for_function(
        "() => window.deltaflow?.store.room?.role === 'viewer' && window.deltaflow.store.conn.status === 'open'"
    )
    assert v.locator("[data-room-viewer]").is_visible()
    page.wait_for_function("() => document.querySelector('[data-room-viewers]').textContent === '1'")

    # the presenter steps a phase; the viewer's page shows the same phase
    page.keyboard.press("ArrowRight")
    wait_phase(page, "Batch")
    page.keyboard.press("ArrowRight")
    wait_phase(page, "Forward · layer 1")
    wait_phase(v, "Forward · layer 1")

    # the viewer's keys change nothing, and say how to explore
    v.locator("body").press("ArrowRight")
    v.wait_for_function("() => document.querySelector('[data-notice]').textContent.includes('Explore on my own')")
    assert page.locator("[data-phase]").text_content() == "Forward · layer 1"
    page.screenshot(path=artifacts / "room-presenter.png")
    v.screenshot(path=artifacts / "room-viewer-390.png")

    # a fork is the room's state, then the viewer's own
    v.locator('[data-action="fork"]').click()
    v.wait_for_function("() => window.deltaflow.store.room === null && !!window.deltaflow.store.server.session")
    assert v.locator("[data-phase]").text_content() == "Forward · layer 1"
    v.locator("body").press("Shift+ArrowRight")
    v.wait_for_function("() => window.deltaflow.store.server.step === 1")
    v.locator("body").press("Shift+ArrowRight")
    v.wait_for_function("() => window.deltaflow.store.server.step === 2")
    assert server_step(page) == 0 and page.locator("[data-phase]").text_content() == "Forward · layer 1"
    page.wait_for_function("() => document.querySelector('[data-room-viewers]').textContent === '0'")

    # and back to the class, at its live state
    v.locator('[data-action="rejoin"]').click()
    v.wait_for_function(
        "() => window.deltaflow.store.room?.role === 'viewer' && window.deltaflow.store.server.step === 0"
    )
    page.wait_for_function("() => document.querySelector('[data-room-viewers]').textContent === '1'")


def test_a_presenter_who_reloads_presents_again(page: Any) -> None:
    open_preset(page, "xor")
    page.locator('[data-action="start-room"]').click()
    page.wait_for_function("() => window.deltaflow.store.room?.role === 'presenter'")
    page.reload()
    page.wait_for_function("() => window.deltaflow?.store.room?.role === 'presenter'")
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function("() => window.deltaflow.store.server.step === 1")


def test_a_viewer_of_a_fast_animation_is_explained_the_last_whole_step(page: Any, browser: Any, server: str) -> None:
    """The viewer's own speed control is not the presenter's: the steps' pace says the room plays
    fast, and its explain panel shows the last whole step, as the presenter's does."""
    open_preset(page, "circle")
    page.locator('[data-action="start-room"]').click()
    page.wait_for_function("() => window.deltaflow.store.room?.role === 'presenter'")
    code = page.locator("[data-room-code]").text_content()
    console = Console()
    with open_page(browser, server, console) as v:
        v.goto(f"/r/{code}")
        v.wait_for_function("() => window.deltaflow?.store.room?.role === 'viewer'")
        page.evaluate(SET_SPEED, 40)  # 30 phases a second, at the presenter's page only
        page.locator('[data-action="animate"]').click()
        v.wait_for_function("() => document.querySelectorAll('[data-explain-body] math').length >= 3")
        v.evaluate(PANEL_DRAWS)
        v.wait_for_function("() => new Set(window.__drawn.map((d) => d[1])).size >= 3")  # 3 steps drawn
        drawn = v.evaluate("() => window.__drawn")
        page.keyboard.press("Space")
        page.wait_for_function("() => window.deltaflow.store.server.playing === null")
    assert not console.errors, "\n".join(console.errors)
    for text, step, grad, w, *_ in drawn:
        assert f"={fmt(grad)}" in text and f"={fmt(w)}" in text, (step, grad, w, text[:400])


def test_a_viewer_who_picks_a_weight_is_told_where_its_cost_plot_is(page: Any, browser: Any, server: str) -> None:
    open_preset(page, "xor")
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    page.locator('[data-action="start-room"]').click()
    page.wait_for_function("() => window.deltaflow.store.room?.role === 'presenter'")
    code = page.locator("[data-room-code]").text_content()
    console = Console()
    with open_page(browser, server, console) as v:  # wide: the explain panel in view
        v.goto(f"/r/{code}")
        v.wait_for_function("() => window.deltaflow?.store.room?.role === 'viewer' && !!window.deltaflow.store.server")
        v.evaluate("() => window.deltaflow.actions.select({kind: 'weight', l: 2, j: 0, i: 1})")
        v.wait_for_function(
            "() => document.querySelector('[data-explain-body]').textContent.includes('Explore on my own to see it')"
        )
        v.wait_for_timeout(300)
        # the page asked the room for nothing: no refusal to show
        assert "following" not in (v.locator("[data-notice]").text_content() or "")
    assert not console.errors, "\n".join(console.errors)
