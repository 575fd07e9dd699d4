"""The controls do what they say: global keys whatever has focus, ← one phase back, one speed
control from phases per second to flat out, and a precision control."""

import re
from typing import Any

import pytest

from tests.e2e.helpers import fmt, open_preset, wait_phase

pytestmark = pytest.mark.browser

STORE = "window.deltaflow.store"


def test_space_after_clicking_a_preset_plays_rather_than_reloading(page: Any) -> None:
    open_preset(page, "circle")
    page.locator('[data-preset="xor"]').click()
    page.wait_for_function(f"() => {STORE}.server.scenario.name === 'xor'")
    session = page.evaluate(f"() => {STORE}.conn.session")
    page.keyboard.press("Space")
    page.wait_for_function(f"() => {STORE}.server.playing !== null")
    page.keyboard.press("Space")
    page.wait_for_function(f"() => {STORE}.server.playing === null")
    assert page.evaluate(f"() => {STORE}.server.scenario.name") == "xor"
    assert page.evaluate(f"() => {STORE}.conn.session") == session


def test_enter_in_a_field_applies_it_and_gives_the_keys_back(page: Any) -> None:
    open_preset(page, "xor")
    page.locator("#set-lr").fill("0.25")
    page.locator("#set-lr").press("Enter")
    page.wait_for_function(f"() => {STORE}.server.scenario.optimizer.learning_rate === 0.25")
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function(f"() => {STORE}.server.step === 1")
    # while typing in a field, the keys are the field's
    page.locator("#set-seed").focus()
    page.keyboard.press("r")
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_timeout(300)
    assert page.evaluate(f"() => {STORE}.server.step") == 1


def test_left_arrow_goes_back_one_phase(page: Any) -> None:
    open_preset(page, "xor")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    wait_phase(page, "Backward · layer 2")
    page.keyboard.press("ArrowLeft")
    wait_phase(page, "Output error")
    page.keyboard.press("ArrowLeft")
    wait_phase(page, "Forward · layer 2")
    page.keyboard.press("ArrowRight")
    wait_phase(page, "Output error")


def set_pace(page: Any, pos: int) -> None:
    page.locator("[data-speed]").fill(str(pos))


def test_one_speed_control_spans_phases_steps_and_flat_out(page: Any) -> None:
    open_preset(page, "circle")
    out = page.locator("[data-speed-out]")
    set_pace(page, 10)
    assert re.fullmatch(r"[\d.]+ phases/s", out.text_content())
    set_pace(page, 60)
    assert re.fullmatch(r"[\d.]+ steps/s", out.text_content())
    rate = float(out.text_content().split()[0])
    assert 1 <= rate <= 1000
    page.keyboard.press("Space")  # plays at the control's pace: training at a rate
    page.wait_for_function(f"() => {STORE}.server.playing === 'train'")
    start = page.evaluate("() => performance.now()")
    page.wait_for_function(f"() => {STORE}.server.step >= 3")
    page.keyboard.press("Space")
    page.wait_for_function(f"() => {STORE}.server.playing === null")
    took = (page.evaluate("() => performance.now()") - start) / 1000
    # an upper bound only (a slow machine gives fewer): never the flat-out thousands
    assert page.evaluate(f"() => {STORE}.server.step") <= rate * (took + 1) + 5
    set_pace(page, 100)
    assert out.text_content() == "flat out"
    page.wait_for_function("() => location.search.includes('pace=100')")
    page.keyboard.press("Space")
    page.wait_for_function(f"() => {STORE}.server.step > 500")
    page.keyboard.press("Space")
    page.wait_for_function(f"() => {STORE}.server.playing === null")
    page.locator('[data-action="animate"]').click()  # the animate button moves the control to phases
    page.wait_for_function(f"() => {STORE}.server.playing === 'animate'")
    assert out.text_content().endswith("phases/s")
    page.keyboard.press("Space")


def test_the_precision_control_sets_the_digits_of_the_numbers(page: Any) -> None:
    open_preset(page, "worked-example")
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    page.locator("[data-digits]").select_option("9")
    page.wait_for_function("() => location.search.includes('digits=9')")
    a = page.evaluate(f"() => {STORE}.cur.forward[2].a[0][0]")
    page.wait_for_function("v => document.querySelector('[data-neuron=\"2:0\"] .val').textContent === v", arg=fmt(a, 9))
    assert fmt(a, 9) != fmt(a, 4)
