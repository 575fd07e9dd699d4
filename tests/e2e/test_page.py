"""The page as a whole: presenter mode, settings in the URL, a tour without console errors,
narrow screens, exports, reconnection and the frame interval."""

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.helpers import click_net, open_preset, wait_phase

pytestmark = pytest.mark.browser


def query(page: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def scenario(page: Any) -> dict[str, Any]:
    doc: dict[str, Any] = page.evaluate("() => window.deltaflow.store.server.scenario")
    return doc


def test_presenter_mode_toggles_with_p(page: Any, artifacts: Path) -> None:
    open_preset(page, "circle")
    settings = page.locator("aside.settings")
    assert settings.is_visible()
    page.keyboard.press("p")
    page.wait_for_function("() => document.documentElement.classList.contains('presenter')")
    # the presets stay within reach; the rest of the settings make room
    assert page.locator('[data-preset="xor"]').is_visible() and page.locator("[data-speed]").is_visible()
    assert not page.locator("aside.settings details").first.is_visible()
    assert page.locator('[data-action="presenter"]').get_attribute("aria-pressed") == "true"
    page.wait_for_function("() => location.search.includes('presenter=1')")
    page.keyboard.press("ArrowRight")
    wait_phase(page, "Batch")
    page.screenshot(path=artifacts / "presenter.png")
    page.keyboard.press("p")
    page.wait_for_function("() => !document.documentElement.classList.contains('presenter')")
    assert settings.is_visible()


def test_url_round_trips_the_settings(page: Any, browser: Any, server: str) -> None:
    open_preset(page, "xor", "&lr=0.1&layers=2-3-1&batch=2&numbers=1")
    page.wait_for_function("() => window.deltaflow.store.server.scenario.layers.join('-') === '2-3-1'")
    doc = scenario(page)
    assert doc["optimizer"]["learning_rate"] == 0.1 and doc["batch_size"] == 2
    page.wait_for_function("() => location.search.includes('layers=2-3-1')")
    assert query(page) == {"preset": "xor", "lr": "0.1", "layers": "2-3-1", "batch": "2", "numbers": "1"}
    assert page.locator("[data-view=numbers]").is_checked()

    page.fill("#set-lr", "0.25")
    page.press("#set-lr", "Tab")
    page.wait_for_function("() => location.search.includes('lr=0.25')")
    page.locator('[data-arch="1:1"]').click()  # one more hidden neuron
    page.wait_for_function("() => location.search.includes('layers=2-4-1')")
    link = page.url

    other = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    other.goto(link)
    other.wait_for_function("() => window.deltaflow?.store.server?.scenario.layers.join('-') === '2-4-1'")
    again = scenario(other)
    for key in ("layers", "activations", "optimizer", "batch_size", "loss", "data", "seed"):
        assert again[key] == scenario(page)[key], key
    assert other.evaluate("() => window.deltaflow.store.view.numbers") is True
    other.context.close()


def test_a_tour_of_the_page_logs_no_errors(page: Any, artifacts: Path) -> None:
    """Every preset, a step of each, training, the explain items and exports; the page fixture
    fails the test on any console error or uncaught exception."""
    open_preset(page, "circle")
    names = page.eval_on_selector_all("[data-preset]", "bs => bs.map(b => b.dataset.preset)")
    for name in names:
        page.locator(f'[data-preset="{name}"]').click()
        page.wait_for_function("n => window.deltaflow.store.server.scenario.name === n", arg=name)
        page.keyboard.press("Shift+ArrowRight")
        wait_phase(page, "Update")
        out = page.evaluate("() => window.deltaflow.store.layers.length - 1")
        for item in (
            '[data-weight="1:0:0"] .hit',
            '[data-bias="1:0"]',
            f'[data-neuron="{out}:0"]',
            '[data-neuron="1:0"]',
        ):
            click_net(page, item)
            page.wait_for_function("() => window.deltaflow.store.dirty.size === 0")
            warn = page.locator("[data-explain-body] .warn")
            assert not warn.count(), f"{name} {item}: {warn.text_content()}"
        page.screenshot(path=artifacts / f"preset-{name}.png")
    page.locator('[data-preset="circle"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.scenario.name === 'circle'")
    page.locator('[data-action="train"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.step > 200")
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")
    page.screenshot(path=artifacts / "circle-trained.png")
    with page.expect_download() as dl:
        page.locator('[data-action="export-json"]').click()
    assert json.loads(Path(dl.value.path()).read_text())["name"] == "circle"
    with page.expect_download() as dl:
        page.locator('[data-action="export-trace"]').click()
    lines = Path(dl.value.path()).read_text().splitlines()
    assert json.loads(lines[0])["type"] == "state"
    with page.expect_download() as dl:
        page.locator('[data-action="export-svg"]').click()
    assert "<svg" in Path(dl.value.path()).read_text()
    with page.expect_download() as dl:
        page.locator('[data-action="export-png"]').click()
    assert Path(dl.value.path()).read_bytes()[:4] == b"\x89PNG"


def test_a_scenario_file_imports(page: Any, tmp_path: Path) -> None:
    open_preset(page, "circle")
    doc = {"name": "mine", "layers": [2, 1], "activations": ["sigmoid"], "data": {"generator": "or"}}
    f = tmp_path / "mine.json"
    f.write_text(json.dumps(doc))
    page.locator("[data-import]").set_input_files(str(f))
    page.wait_for_function("() => window.deltaflow.store.server.scenario.name === 'mine'")
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    assert "the delta rule" in page.locator("[data-explain-body]").text_content()


def test_a_narrow_screen_keeps_everything_usable(page: Any, artifacts: Path) -> None:
    page.set_viewport_size({"width": 768, "height": 1024})
    open_preset(page, "circle")
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 768
    for sel in ("[data-net] svg", "[data-heatmap] canvas", "[data-explain-body]", '[data-action="next"]'):
        assert page.locator(sel).first.is_visible(), sel
    page.screenshot(path=artifacts / "narrow-768.png", full_page=True)


def test_reconnects_to_the_same_session(page: Any) -> None:
    open_preset(page, "worked-example")
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    session = page.evaluate("() => window.deltaflow.store.conn.session")
    page.evaluate("() => window.deltaflow.socket.drop()")
    page.wait_for_function("() => window.deltaflow.store.conn.status !== 'open'")
    page.wait_for_function("() => window.deltaflow.store.conn.status === 'open'")
    page.wait_for_function("() => window.deltaflow.store.server.step === 1")
    assert page.evaluate("() => window.deltaflow.store.conn.session") == session


def frames_drawn(page: Any, ms: int) -> int:
    page.evaluate("() => window.deltaflow.frameTimes.length = 0")
    page.wait_for_timeout(ms)
    return int(page.evaluate("() => window.deltaflow.frameTimes.length"))


def test_the_page_keeps_drawing_while_animating_and_training(page: Any) -> None:
    # frame rates are measured in benchmarks/run.py; here only that drawing goes on in both modes
    open_preset(page, "circle")
    assert page.evaluate("() => performance.getEntriesByName('deltaflow:first-render').length") == 1
    page.locator('[data-action="animate"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.playing === 'animate'")
    assert frames_drawn(page, 500) > 1
    page.locator('[data-action="train"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.playing === 'train'")
    page.wait_for_function("() => window.deltaflow.store.maps.seq > 5")
    assert frames_drawn(page, 500) > 1
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")


def test_clicks_on_the_plane_add_points_of_either_class(page: Any) -> None:
    open_preset(page, "xor")
    box = page.locator("[data-heatmap] canvas").bounding_box()
    page.mouse.click(box["x"] + 20, box["y"] + 20)
    page.wait_for_function("() => window.deltaflow.store.dataset.train.x.length === 5")
    page.keyboard.down("Shift")
    page.mouse.click(box["x"] + box["width"] - 20, box["y"] + 20)
    page.keyboard.up("Shift")
    page.wait_for_function("() => window.deltaflow.store.dataset.train.x.length === 6")
    ys = page.evaluate("() => window.deltaflow.store.dataset.train.y.slice(-2)")
    assert ys == [[1], [0]]  # class A takes the high label, class B the low one
    x = page.evaluate("() => window.deltaflow.store.dataset.train.x[4]")
    assert x[0] < 0 < x[1]  # top left of the plane
