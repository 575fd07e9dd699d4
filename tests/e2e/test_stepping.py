"""Stepping the worked example phase by phase: the page shows exactly the server's numbers."""

from pathlib import Path
from typing import Any

import pytest

from app import scenario as sc
from app.cli import trace
from tests.e2e.helpers import click_net, fmt, open_preset, wait_phase

pytestmark = pytest.mark.browser

PHASES = [
    ("Batch", None),
    ("Forward · layer 1", 1),
    ("Forward · layer 2", 2),
    ("Output error", None),
    ("Backward · layer 2", 2),
    ("Backward · layer 1", 1),
    ("Update", 1),
    ("Update", 2),
]


def events() -> dict[str, Any]:
    """The first step of the worked example, straight from the engine, by type and layer."""
    out = {}
    for e in trace(sc.preset("worked-example"), steps=1):
        out[e["type"] + (str(e["layer"]) if "layer" in e else "")] = e
    return out


def text(page: Any, selector: str) -> str:
    t: str = page.locator(selector).text_content()
    return t


def test_worked_example_phase_by_phase(page: Any, artifacts: Path) -> None:
    ev = events()
    open_preset(page, "worked-example")
    assert text(page, "[data-phase]") == "Ready"
    page.keyboard.press("n")  # numbers on the network
    for k, (phase, layer) in enumerate(PHASES, start=1):
        page.keyboard.press("ArrowRight")
        wait_phase(page, phase, layer)
        slug = phase.lower().replace(" · ", "-").replace(" ", "-")
        page.screenshot(path=artifacts / f"worked-{k:02d}-{slug}{'-' + str(layer) if layer else ''}.png")
        if phase == "Forward · layer 2":
            a = ev["forward2"]["a"][0][0]
            assert text(page, '[data-neuron="2:0"] .val') == fmt(a)
            assert fmt(a).startswith("0.751")
        if phase == "Output error":
            e = ev["output_error"]
            assert text(page, "[data-loss]") == f"E = {fmt(e['loss'])}"
            assert fmt(e["loss"]).startswith("0.298")
            assert text(page, '[data-neuron="2:0"] .dval') == f"δ {fmt(e['delta'][0][0])}"
            assert fmt(e["delta"][0][0]).startswith("0.138")
            assert text(page, '[data-neuron="2:0"] .tgt') == "t 0.01"
    w5 = ev["update2"]["weights"][0][0]
    edge = page.locator('[data-weight="2:0:0"]')
    assert float(edge.get_attribute("data-value")) == w5
    assert str(w5).startswith("0.3589")
    assert text(page, '[data-weight-label="2:0:0"]').startswith(fmt(w5))
    assert text(page, "[data-step]") == "1"


def test_explain_panel_shows_mathml_with_live_numbers(page: Any, artifacts: Path) -> None:
    ev = events()
    open_preset(page, "worked-example")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    wait_phase(page, "Output error")
    body = page.locator("[data-explain-body]")
    assert body.locator("math").count() >= 3
    math = " ".join(body.locator("math").all_text_contents())
    e = ev["output_error"]
    for v in (e["output"][0][0], e["delta"][0][0], e["dloss"][0][0], e["losses"][0]):
        assert fmt(v) in math
    assert "reverse-mode automatic differentiation" in body.text_content()
    assert "chain rule" in body.text_content()

    for _ in range(4):
        page.keyboard.press("ArrowRight")
    wait_phase(page, "Update", 2)
    click_net(page, '[data-weight="2:0:0"] .hit')  # a level line has a zero-height box
    page.wait_for_selector("[data-explain-body] svg.slice")
    math = " ".join(body.locator("math").all_text_contents())
    assert fmt(ev["backward2"]["grad_w"][0][0]) in math
    assert fmt(ev["update2"]["weights"][0][0]) in math
    assert "w←w−η" in math
    assert not page.locator("[data-explain-body] .warn").count()
    page.screenshot(path=artifacts / "explain-weight.png")

    page.locator("[data-action=gradcheck]").click()
    page.wait_for_selector("[data-gradcheck]")
    assert "maximum relative error" in text(page, "[data-gradcheck]")


def test_hidden_delta_sums_every_term(page: Any) -> None:
    ev = events()
    open_preset(page, "worked-example")
    for _ in range(6):
        page.keyboard.press("ArrowRight")
    wait_phase(page, "Backward · layer 1")
    page.locator('[data-neuron="1:0"]').click()
    math = " ".join(page.locator("[data-explain-body] math").all_text_contents())
    w = ev["update2"]["weights"]  # after; the sum must use the weights before the update
    assert fmt(0.40) in math and fmt(0.50) in math and fmt(w[0][0]) not in math
    assert fmt(ev["backward1"]["delta"][0][0]) in math


def test_a_weight_is_set_by_clicking_it_and_typing(page: Any) -> None:
    open_preset(page, "worked-example")
    click_net(page, '[data-weight="2:1:1"] .hit')
    page.keyboard.type("0.75")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.deltaflow.store.weights[1][1][1] === 0.75")
    page.wait_for_selector('[data-weight="2:1:1"][data-value="0.75"]', state="attached")
    page.keyboard.press("ArrowRight")  # the keys step again once the value is in
    wait_phase(page, "Batch")


def test_back_and_the_timeline_travel_in_time(page: Any) -> None:
    open_preset(page, "xor")
    for _ in range(3):
        page.keyboard.press("Shift+ArrowRight")
        page.wait_for_function("n => window.deltaflow.store.server.step === n", arg=_ + 1)
    page.keyboard.press("ArrowLeft")  # one phase back: the last update of step 3 is not shown yet
    wait_phase(page, "Update", 1)
    assert page.evaluate("() => window.deltaflow.store.server.step") == 2
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.deltaflow.store.server.step === 3")
    page.locator("[data-timeline]").fill("1")
    page.wait_for_function("() => window.deltaflow.store.server.step === 1")
    # the future stays in the history until a new step replaces it
    page.wait_for_function("() => document.querySelector('[data-timeline-out]').textContent === '1 / 3'")


def test_the_page_warns_when_its_derivation_disagrees_with_the_server(page: Any) -> None:
    open_preset(page, "worked-example")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    wait_phase(page, "Backward · layer 2")
    assert not page.locator("[data-explain-body] .warn").count()
    # a gradient off by 1e-3, as a wrong server would send it
    page.evaluate("""() => { const s = window.deltaflow.store;
      s.cur.backward[2].grad_w[0][0] += 1e-3; s.touch("explain"); }""")
    warn = page.locator("[data-explain-body] .warn")
    warn.wait_for()
    assert "∂C/∂w" in warn.text_content()


def test_a_weight_is_reached_from_the_keyboard(page: Any) -> None:
    ev = events()
    open_preset(page, "worked-example")
    for _ in range(7):
        page.keyboard.press("ArrowRight")
    wait_phase(page, "Update", 1)
    page.locator('[data-neuron="2:0"]').focus()
    page.keyboard.press("Enter")  # the neuron's explanation lists its weights as buttons
    button = page.locator('[data-explain-body] [data-select="weight:2:0:1"]')
    button.focus()
    page.keyboard.press("Enter")
    body = page.locator("[data-explain-body]")
    page.wait_for_function("() => document.querySelector('[data-explain-body] h3')?.textContent.startsWith('Weight')")
    assert fmt(ev["backward2"]["grad_w"][0][1]) in " ".join(body.locator("math").all_text_contents())
    page.keyboard.press("5")  # typing a number edits the selected weight
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.deltaflow.store.weights[1][0][1] === 5")


def test_a_selection_the_next_network_has_no_unit_for_is_let_go(page: Any) -> None:
    open_preset(page, "circle")
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    page.evaluate("() => window.deltaflow.actions.select({kind: 'weight', l: 2, j: 1, i: 3})")
    page.wait_for_function("() => window.deltaflow.store.pinned")
    page.evaluate("() => window.deltaflow.actions.openPreset('xor')")  # 2-2-1: no weight 2:1:3
    page.wait_for_function("() => window.deltaflow.store.server.scenario.name === 'xor'")
    page.wait_for_function("() => window.deltaflow.store.selection === null && !window.deltaflow.store.pinned")
    page.keyboard.press("Shift+ArrowRight")  # and the page goes on, with no error (the fixture checks)
    wait_phase(page, "Update")
