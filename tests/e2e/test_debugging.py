"""The debugging views in the browser: a breakpoint hit, the training-health view, and the
computation graph, each with a screenshot in the test's tmp dir."""

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import open_preset

pytestmark = pytest.mark.browser


def test_a_breakpoint_hit_pauses_highlights_the_culprit_and_offers_the_step_before(page: Any, tmp_path: Path) -> None:
    open_preset(page, "dead-relu")
    page.locator("[data-breakpoints]").scroll_into_view_if_needed()  # its module loads when it is first seen
    page.locator('[data-bp="dead_units"] input[type="checkbox"]').check()
    page.locator("[data-bp-set]").click()
    page.wait_for_function("() => window.deltaflow.store.server.breakpoints.some((b) => b.kind === 'dead_units')")
    page.locator('[data-action="train"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.paused_reason?.kind === 'dead_units'")
    reason = page.evaluate("() => window.deltaflow.store.server.paused_reason")
    banner = page.locator("[data-banner]")
    assert banner.is_visible() and reason["message"] in banner.text_content()
    culprit = f'[data-net] [data-neuron="{reason["layer"]}:{reason["unit"]}"]'
    page.wait_for_function("(q) => document.querySelector(q)?.classList.contains('sel')", arg=culprit)
    # its explanation opens (the explain panel's module loads with this first selection)
    explained = "(m) => document.querySelector('[data-explain-body]').textContent.includes(m)"
    page.wait_for_function(explained, arg=reason["message"])
    page.screenshot(path=tmp_path / "breakpoint-hit.png")
    back = page.locator("[data-seek-before]")
    assert back.text_content() == f"Go to step {reason['step'] - 1}, the one before"
    back.click()
    page.wait_for_function("(s) => window.deltaflow.store.server.step === s", arg=reason["step"] - 1)
    assert (tmp_path / "breakpoint-hit.png").stat().st_size > 0


# the health panel scrolled into view (as a person would scroll to it), and the step it drew
SEEN_HEALTH_STEP = """(step) => { const h = document.querySelector('[data-health]');
  h.scrollIntoView({ block: "center" }); return h.dataset.healthStep === step; }"""


def test_the_health_view_draws_a_row_per_layer_and_a_click_selects_the_layer(page: Any, tmp_path: Path) -> None:
    open_preset(page, "vanishing-sigmoid")
    page.locator('[data-action="step"]').click()
    # its module loads when it is first seen; the panels above it grow as theirs load, so keep it in view
    page.wait_for_function(SEEN_HEALTH_STEP, arg="1")
    rows = page.locator("[data-health-layer]")
    assert rows.count() == 6
    h = page.evaluate("() => window.deltaflow.store.health.at(-1)")
    assert "0 dead" in rows.nth(0).text_content() and len(h["layers"]) == 6
    rows.nth(1).click()
    page.wait_for_function("() => document.querySelectorAll('[data-net] [data-neuron^=\"2:\"].sel').length === 8")
    assert rows.nth(1).get_attribute("aria-pressed") == "true"
    rows.nth(1).scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "health.png")
    assert (tmp_path / "health.png").stat().st_size > 0


SEEN_GRAPH_NODES = """(n) => { const g = document.querySelector('[data-graph]');
  g.scrollIntoView({ block: "center" }); return g.querySelectorAll('[data-node]').length === n; }"""


IN_VIEW_UNTIL_LOADED = """() => { document.querySelector('[data-graph]').scrollIntoView({ block: 'nearest' });
  return !!document.querySelector('[data-graph-request]'); }"""


def test_the_graph_view_draws_the_nodes_and_lights_them_backward(page: Any, tmp_path: Path) -> None:
    open_preset(page, "worked-example")
    page.locator('[data-net] [data-neuron="2:0"]').click()
    page.wait_for_selector("[data-explain-body] h3", state="attached")  # the panel above it has grown
    # its module loads once it has been seen for a moment: kept in view while panels above it grow
    page.wait_for_function(IN_VIEW_UNTIL_LOADED, polling=100)
    page.locator("[data-graph-request]").click()
    page.wait_for_function("() => window.deltaflow.store.graph?.layer === 2")
    g = page.evaluate("() => window.deltaflow.store.graph")
    # the panels above it grow as their modules load: keep it in view until it has drawn
    page.wait_for_function(SEEN_GRAPH_NODES, arg=len(g["nodes"]))
    assert page.locator("[data-graph] [data-edge]").count() == len(g["edges"])
    for k in range(1, 4):
        page.locator("[data-graph-back]").click()
        page.wait_for_function("(k) => document.querySelector('[data-graph]').dataset.lit === String(k)", arg=k)
    assert page.locator('[data-graph] [data-node="E"]').get_attribute("class") == "graph-node lit"
    detail = page.locator("[data-graph-detail]").text_content()
    assert detail.startswith("∂E/∂") and "×" in detail
    page.locator("[data-graph]").scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "graph.png")
    page.locator("[data-graph-restart]").click()
    page.wait_for_function("() => document.querySelector('[data-graph]').dataset.lit === '0'")
    assert (tmp_path / "graph.png").stat().st_size > 0
