"""A light page: the modules of panels and tools nobody has used yet are not fetched at load, and
each works on its first use, even when that use comes before its module has arrived (the
module's request is held until the click, the drop or the form is done, then let through)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from benchmarks.browser import PAGE_BYTES
from tests.e2e.conftest import Console, open_page
from tests.e2e.helpers import open_preset

pytestmark = pytest.mark.browser

# every JS and CSS file the page has fetched so far (paths)
FETCHED = """() => performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname)
  .filter((p) => /\\.(m?js|css)$/.test(p))"""
# modules (and styles) that load on first use, or when their panel is first seen
LATER = [
    "views/compare.js",
    "upload.js",
    "views/room.js",
    "points.js",
    "models.js",
    "views/explain.js",
    "views/equations.js",
    "views/mathml.js",
    "views/deltas.js",
    "views/examples.js",
    "views/breakpoints.js",
    "views/health.js",
    "views/graph.js",
    "views/gradnorm.js",
    "css/panels.css",
    "mapdraw.js",  # the socket worker's map drawing: at the first train frame
    "planemaps.js",
]
BUDGET = 150_000  # bytes of JS and CSS at load (docs/performance.md, "Page bytes")


def fetched(page: Any, name: str) -> bool:
    return any(p.endswith("/" + name) for p in page.evaluate(FETCHED))


@contextmanager
def held(page: Any, name: str) -> Iterator[list[Any]]:
    """Holds the requests of static/NAME until the block ends: what the page does meanwhile
    happens before the module has arrived."""
    routes: list[Any] = []
    pattern = f"**/static/{name}?*"
    page.route(pattern, lambda route: routes.append(route))
    try:
        yield routes
    finally:
        for r in routes:
            r.continue_()
        page.unroute(pattern)


def wait_held(page: Any, routes: list[Any]) -> None:
    for _ in range(200):
        if routes:
            return
        page.wait_for_timeout(25)
    raise AssertionError("the module was never asked for")


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)])
def test_a_fresh_page_fetches_none_of_them_and_stays_within_budget(
    browser: Any, server: str, console: Console, size: tuple[int, int]
) -> None:
    with open_page(browser, server, console, width=size[0], height=size[1]) as page:
        open_preset(page, "circle")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1000)  # a panel on screen would have loaded by now
        early = [name for name in LATER if fetched(page, name)]
        assert early == [], f"fetched at load: {early}"
        assert page.evaluate(PAGE_BYTES) <= BUDGET
    assert not console.errors, "\n".join(console.errors)


def test_the_compare_form_sent_before_its_module_arrives_branches(page: Any) -> None:
    open_preset(page, "circle")
    assert not fetched(page, "views/compare.js")
    with held(page, "views/compare.js") as routes:
        page.select_option("[data-branch-kind]", "learning_rate")
        page.fill("[data-branch-value]", "0.3")
        page.fill("[data-branch-from]", "0")
        page.locator("[data-action-branch]").click()
        wait_held(page, routes)
        assert page.evaluate("() => window.deltaflow.store.branch") is None
    page.wait_for_function("() => window.deltaflow.store.branch?.from_step === 0")
    page.locator("[data-compare-summary]").wait_for(state="visible")
    assert "learning rate → 0.3" in page.locator("[data-compare-summary]").text_content()


def test_a_csv_dropped_before_the_upload_module_arrives_becomes_the_dataset(page: Any) -> None:
    open_preset(page, "circle")
    assert not fetched(page, "upload.js")
    with held(page, "upload.js") as routes:
        dt = page.evaluate_handle(
            """(text) => { const dt = new DataTransfer();
              dt.items.add(new File([text], "gate.csv", { type: "text/csv" })); return dt; }""",
            "a,b,out\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n",
        )
        page.dispatch_event("[data-heatmap] canvas", "dragover", {"dataTransfer": dt})
        page.dispatch_event("[data-heatmap] canvas", "drop", {"dataTransfer": dt})
        wait_held(page, routes)
    page.wait_for_function("() => window.deltaflow.store.server.scenario.name === 'gate'")
    doc = page.evaluate("() => window.deltaflow.store.server.scenario")
    assert doc["layers"] == [2, 4, 2, 1] and doc["data"]["train"]["x"][1] == [0, 1]  # circle's hidden layers


def test_a_room_started_before_its_module_arrives_opens(page: Any) -> None:
    open_preset(page, "circle")
    assert not fetched(page, "views/room.js")
    with held(page, "views/room.js") as routes:
        page.locator('[data-action="start-room"]').click()
        wait_held(page, routes)
    page.wait_for_function("() => window.deltaflow.store.room?.role === 'presenter'")
    page.locator("[data-room-code]").wait_for(state="visible")
    assert len(page.locator("[data-room-code]").text_content() or "") == 6
    assert fetched(page, "css/panels.css")  # the join card's styles came with it


def test_a_point_clicked_before_its_module_arrives_is_added(page: Any) -> None:
    open_preset(page, "circle")
    n = page.evaluate("() => window.deltaflow.store.dataset.train.x.length")
    with held(page, "points.js") as routes:
        box = page.locator("[data-heatmap] canvas").bounding_box()
        page.mouse.click(box["x"] + 30, box["y"] + 30)
        wait_held(page, routes)
    page.wait_for_function("(n) => window.deltaflow.store.dataset.train.x.length === n + 1", arg=n)


def test_the_explain_panel_rests_without_its_module_and_follows_the_first_phase(page: Any) -> None:
    open_preset(page, "worked-example")
    body = page.locator("[data-explain-body]")
    assert "reverse-mode automatic differentiation" in body.text_content()
    assert body.locator("[data-trains-biases]").count() == 1  # the worked example's note
    assert not fetched(page, "views/explain.js")
    page.keyboard.press("ArrowRight")  # the batch: the explain panel follows the phase
    page.wait_for_function("() => window.deltaflow.store.selection?.kind === 'neuron'")
    page.wait_for_selector("[data-explain-body] math")
    assert fetched(page, "views/explain.js")
