"""Nothing is lost without the user asking: a link opens exactly what was shared, a reload and
a server restart keep the run, Back and Forward move between scenarios, and a replaced run can
be brought back."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.e2e.conftest import Console, open_page
from tests.e2e.helpers import click_net, open_preset, wait_phase
from tests.live import ROOT, free_port

pytestmark = pytest.mark.browser

STORE = "window.deltaflow.store"


def first_state(page: Any) -> dict[str, Any]:
    """The first `state` the page received (the trace export begins with it)."""
    return dict(json.loads(page.evaluate(f"() => {STORE}.trace.find(r => r.includes('\"state\"'))")))


def settled(page: Any, name: str, step: int) -> None:
    page.wait_for_function(
        "([n, k]) => { const s = window.deltaflow?.store; return s?.server?.scenario.name === n"
        " && s.server.step === k && s.conn.status === 'open' && !location.search.includes('step=' + (k + 1)); }",
        arg=[name, step],
    )


def steps(page: Any, n: int) -> None:
    start = page.evaluate(f"() => {STORE}.server.step")
    for k in range(1, n + 1):
        page.keyboard.press("Shift+ArrowRight")
        page.wait_for_function(f"k => {STORE}.server.step === k", arg=start + k)  # this step's, not the last one's
        wait_phase(page, "Update")


def test_a_link_opened_fresh_starts_on_its_own_scenario(page: Any) -> None:
    page.goto("/?preset=xor&layers=2-3-1&lr=0.2")
    page.wait_for_function(f"() => {STORE}.server?.scenario.layers.join('-') === '2-3-1'")
    st = first_state(page)
    assert st["scenario"]["name"] == "xor" and st["scenario"]["layers"] == [2, 3, 1]
    assert st["scenario"]["optimizer"]["learning_rate"] == 0.2
    assert "preset=xor" in page.url and "layers=2-3-1" in page.url


def test_a_reload_in_the_middle_reattaches_to_the_same_session(page: Any) -> None:
    open_preset(page, "xor")
    steps(page, 3)
    page.wait_for_function("() => location.search.includes('step=3')")
    session = page.evaluate(f"() => {STORE}.conn.session")
    page.reload()
    settled(page, "xor", 3)
    assert page.evaluate(f"() => {STORE}.conn.session") == session


def test_a_shared_link_reproduces_added_points_typed_weights_and_the_step(page: Any, browser: Any, server: str) -> None:
    open_preset(page, "three-class")
    page.wait_for_function(f"() => {STORE}.dataset")  # it follows the state
    n = page.evaluate(f"() => {STORE}.dataset.train.x.length")
    box = page.locator("[data-heatmap] canvas").bounding_box()
    page.locator('[data-classes] button[data-class="2"]').click()  # the third class
    page.mouse.click(box["x"] + 30, box["y"] + 30)
    page.wait_for_function(f"() => {STORE}.dataset.train.x.length === {n + 1}")
    assert page.evaluate(f"() => {STORE}.dataset.train.y.at(-1)") == [0, 0, 1]
    click_net(page, '[data-weight="1:0:0"] .hit')
    page.keyboard.type("0.75")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => {STORE}.weights[0][0][0] === 0.75")
    steps(page, 2)
    page.wait_for_function("() => location.search.startsWith('?s=') && location.search.includes('step=2')")
    want = page.evaluate(f"() => ({{w: {STORE}.weights, n: {STORE}.dataset.train.x.length}})")
    other = Console()
    with open_page(browser, server, other) as fresh:
        fresh.goto(page.url)
        fresh.wait_for_function(f"() => {STORE}.server?.step === 2 && {STORE}.dataset")
        got = fresh.evaluate(f"() => ({{w: {STORE}.weights, n: {STORE}.dataset.train.x.length}})")
        assert got == want
        assert first_state(fresh)["scenario"]["name"] == "three-class"
    assert not other.errors


def test_back_and_forward_move_between_scenarios(page: Any) -> None:
    open_preset(page, "xor")
    page.locator('[data-preset="circle"]').click()
    page.wait_for_function("() => location.search.includes('preset=circle')")
    page.locator('[data-arch="add"]').click()
    page.wait_for_function("() => location.search.includes('layers=2-4-2-2-1')")
    page.go_back()
    page.wait_for_function(f"() => {STORE}.server.scenario.name === 'circle' && {STORE}.layers.length === 4")
    page.go_back()
    page.wait_for_function(f"() => {STORE}.server.scenario.name === 'xor'")
    assert "preset=xor" in page.url
    page.go_forward()
    page.wait_for_function(f"() => {STORE}.server.scenario.name === 'circle'")


def test_a_point_added_after_50_steps_keeps_the_step_the_weights_and_the_history(page: Any) -> None:
    open_preset(page, "circle")
    page.evaluate("() => window.deltaflow.socket.send({type: 'step', count: 50})")
    page.wait_for_function(f"() => {STORE}.server.step === 50 && !{STORE}.dirty.size")
    before = page.evaluate(f"() => ({{w: {STORE}.weights, b: {STORE}.biases, h: {STORE}.server.history}})")
    n = page.evaluate(f"() => {STORE}.dataset.train.x.length")
    box = page.locator("[data-heatmap] canvas").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 7, box["y"] + box["height"] / 2 - 5)
    page.wait_for_function(f"() => {STORE}.dataset.train.x.length === {n + 1}")
    page.wait_for_function(f"() => {STORE}.server.scenario.data.train?.x.length === {n + 1}")
    after = page.evaluate(f"() => ({{w: {STORE}.weights, b: {STORE}.biases, h: {STORE}.server.history}})")
    assert page.evaluate(f"() => {STORE}.server.step") == 50
    assert after == before  # weights, biases and the history 0–50 all kept
    # the link carries the new point: a stored scenario, at the weights of step 50
    page.wait_for_function("() => location.search.startsWith('?s=')")
    # right-click on the added point takes it out again; the run stays at step 50
    x, y = page.evaluate(f"() => {STORE}.dataset.train.x.at(-1)")
    ext = page.evaluate(f"() => {STORE}.dataset.extent")
    px = box["x"] + (x - ext[0]) / (ext[1] - ext[0]) * box["width"]
    py = box["y"] + (ext[3] - y) / (ext[3] - ext[2]) * box["height"]
    page.mouse.click(px, py, button="right")
    page.wait_for_function(f"() => {STORE}.dataset.train.x.length === {n}")
    assert page.evaluate(f"() => [{STORE}.server.step, {STORE}.weights]") == [50, before["w"]]
    # back before the edit: the points of then
    page.evaluate("() => window.deltaflow.socket.send({type: 'seek', step: 20})")
    page.wait_for_function(f"() => {STORE}.server.step === 20 && {STORE}.server.scenario.data.generator === 'circle'")


def test_a_click_on_the_plane_keeps_the_weights_and_can_be_undone(page: Any) -> None:
    open_preset(page, "xor")
    steps(page, 4)
    before = page.evaluate(f"() => {STORE}.weights")
    box = page.locator("[data-heatmap] canvas").bounding_box()
    page.mouse.click(box["x"] + 20, box["y"] + 20)
    page.wait_for_function(f"() => {STORE}.dataset.train.x.length === 5")
    assert page.evaluate(f"() => {STORE}.weights") == before  # the network goes on from where it was
    assert page.evaluate(f"() => {STORE}.server.step") == 4
    assert "Undo" in page.locator("[data-notice]").text_content()
    page.keyboard.press("Control+z")
    settled(page, "xor", 4)
    page.wait_for_function(f"() => {STORE}.dataset.train.x.length === 4")
    assert page.evaluate(f"() => {STORE}.weights") == before


@contextmanager
def on_port(port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`deltaflow serve` on a given port (to start it again where the page left it)."""
    cmd = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    quiet = subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=quiet, stderr=quiet)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_server_restart_rebuilds_the_run_and_keeps_the_link(browser: Any) -> None:
    env = {"DELTAFLOW_DB": ":memory:"}  # nothing saved: the page must rebuild the run itself
    port = free_port()
    con = Console()
    with on_port(port, env) as proc, open_page(browser, f"http://127.0.0.1:{port}", con) as page:
        open_preset(page, "xor")
        steps(page, 5)
        page.wait_for_function("() => location.search.includes('step=5')")
        link = page.url
        proc.terminate()
        proc.wait(10)
        page.wait_for_function(f"() => {STORE}.conn.status !== 'open'")
        with on_port(port, env):
            settled(page, "xor", 5)
            assert page.url == link  # never rewritten to another scenario
            assert "rebuilt" in page.locator("[data-notice]").text_content()
    # the refused reconnections while the server was down are the only errors expected
    assert all("ERR_CONNECTION_REFUSED" in e or "WebSocket" in e for e in con.errors), con.errors
