"""Every number on screen agrees with every other: a typed weight moves every loss, the two
losses have two names, a weight has one notation, softmax is a function of a vector, and no
raw protocol error reaches a person."""

import re
from typing import Any

import pytest

from tests.e2e.conftest import Console, open_page
from tests.e2e.helpers import click_net, fmt, open_preset, wait_phase

pytestmark = pytest.mark.browser

STORE = "window.deltaflow.store"


def type_weight(page: Any, sel: str, value: str) -> None:
    click_net(page, sel)
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def test_a_typed_weight_moves_every_number_and_the_link(page: Any) -> None:
    open_preset(page, "xor")
    for k in range(1, 4):
        page.keyboard.press("Shift+ArrowRight")
        page.wait_for_function(f"k => {STORE}.server.step === k", arg=k)
        wait_phase(page, "Update")
    header = page.locator("[data-train-loss]")
    before = header.text_content()
    outputs = page.evaluate(f"() => {STORE}.outputs.y")
    type_weight(page, '[data-weight="1:0:0"] .hit', "4")
    page.wait_for_function(f"() => {STORE}.weights[0][0][0] === 4")
    page.wait_for_function(f"() => {STORE}.curve.at(-1)[2] !== null && {STORE}.outputs")
    # the header, the chart's last row and the outputs: all at the new weights
    row = page.evaluate(f"() => {STORE}.curve.at(-1)")
    page.wait_for_function("v => document.querySelector('[data-train-loss]').textContent === v", arg=fmt(row[2]))
    assert header.text_content() != before
    page.wait_for_function(f"o => JSON.stringify({STORE}.outputs.y) !== JSON.stringify(o)", arg=outputs)
    # the cost along the weight is loaded again, at its new value
    page.wait_for_function(f"() => {STORE}.slice?.w === 4")
    # drawn at the panel's next frame
    loaded = "() => !document.querySelector('[data-explain-body]').textContent.includes('Loading the cost')"
    page.wait_for_function(loaded)
    page.wait_for_function("() => location.search.startsWith('?s=')")  # the edit goes into the link


def test_the_two_losses_have_two_names(page: Any) -> None:
    open_preset(page, "circle")
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    counters = page.locator(".counters").text_content()
    assert "cost C" in counters and "training loss" in counters
    c = page.evaluate(f"() => {STORE}.cur.outErr.loss")
    assert page.locator("[data-loss-now]").text_content() == fmt(c)
    assert "training loss" in page.locator(".outputs span.legend").text_content()


def test_a_weight_has_one_name_everywhere(page: Any) -> None:
    open_preset(page, "worked-example")
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    click_net(page, '[data-weight="2:0:0"] .hit', hover=True)
    page.wait_for_function("() => document.querySelector('#net-tip').textContent")  # its text loads at the first hover
    tip = page.locator("#net-tip").text_content()
    click_net(page, '[data-weight="2:0:0"] .hit')
    label = page.locator("[data-edit] label").text_content()
    heading = page.locator("[data-explain-body] h3").first.inner_html()
    assert "w⁽²⁾₁,₁" in tip and "w⁽²⁾₁,₁" in label
    assert re.search(r"w<sub>1,1</sub><sup>\(2\)</sup>", heading)
    for text in (tip, label, page.locator("[data-log]").text_content()):
        assert not re.search(r"w\d\[|←\d", text), text


def test_softmax_is_shown_as_a_function_of_the_whole_vector(page: Any) -> None:
    open_preset(page, "three-class")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    wait_phase(page, "Forward · layer 2")
    click_net(page, '[data-neuron="2:1"]')
    body = page.locator("[data-explain-body]")
    page.wait_for_function("() => document.querySelector('[data-explain-body]').textContent.includes('whole vector')")
    math = " ".join(body.locator("math").all_text_contents())
    assert "softmax" in math and "∑" in math
    assert not re.search(r"softmax\(\s*[−\d.]+\s*\)", math.replace(" ", ""))  # never of one number
    assert not body.locator(".warn").count()


def test_no_raw_protocol_error_reaches_a_person(page: Any) -> None:
    open_preset(page, "xor")
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    type_weight(page, '[data-weight="1:0:0"] .hit', "900")  # a large weight: its slice stays in range
    page.wait_for_function(f"() => {STORE}.slice?.w === 900")
    notice = page.locator("[data-notice]")
    assert "Input should be" not in (notice.text_content() or "")
    # a request out of range, as a page bug would send it: told in words, detailed in the log
    page.evaluate("() => window.deltaflow.socket.send({type: 'slice', layer: 1, to: 0, from: 0, span: 1000})")
    page.wait_for_function("() => document.querySelector('[data-notice]').textContent.includes('could not do')")
    text = notice.text_content()
    assert "Input should be" not in text and "slice.span" not in text
    assert "slice.span" in page.locator("[data-log]").text_content()


BAD_SLICE = "() => window.deltaflow.socket.send({type: 'slice', layer: 1, to: 0, from: 0, span: 1000})"
NOTICE = "() => document.querySelector('[data-notice]').textContent"


def test_an_error_is_told_in_words_loaded_at_the_first_error_and_never_over_a_later_notice(page: Any) -> None:
    open_preset(page, "xor")
    # the words for errors come with the first error, not with the page
    assert not page.evaluate("() => performance.getEntriesByType('resource').some((e) => e.name.includes('words.js'))")
    # while they load (held here), a notice of the page's own comes after the error: it stays
    held: list[Any] = []
    page.route("**/words.js*", lambda route: held.append(route))
    page.evaluate(BAD_SLICE)
    page.wait_for_function("() => window.deltaflow.store.log.some((e) => e.ev.type === 'error')")
    page.evaluate(
        "() => { const s = window.deltaflow.store; s.notice = {kind: 'info', text: 'later', at: performance.now()};"
        " s.touch('status'); }"
    )
    page.wait_for_function(f"() => ({NOTICE})() === 'later'")
    while not held:
        page.wait_for_timeout(50)
    held[0].continue_()
    page.evaluate("() => import('./static/words.js')")  # the words have come
    page.wait_for_timeout(100)  # and what waited on them has run: the later notice is still shown
    assert page.evaluate(NOTICE) == "later"
    page.unroute("**/words.js*")
    page.evaluate(BAD_SLICE)  # and an error after it is told in words
    page.wait_for_function(f"() => ({NOTICE})().includes('could not do')")


def test_an_error_is_told_even_when_its_words_cannot_load(browser: Any, server: str, console: Console) -> None:
    with open_page(browser, server, console) as page:
        page.route("**/words.js*", lambda route: route.abort())
        open_preset(page, "xor")
        page.evaluate(BAD_SLICE)
        page.wait_for_function(f"() => ({NOTICE})().includes('step log has the details')")
        assert "slice.span" not in page.evaluate(NOTICE)
    assert all("Failed to load resource" in e for e in console.errors), console.errors


def test_an_error_whose_words_come_late_is_shown_from_when_they_come(page: Any) -> None:
    held: list[Any] = []
    page.route("**/words.js*", lambda route: held.append(route))
    open_preset(page, "xor")
    page.evaluate(BAD_SLICE)
    page.wait_for_function("() => window.deltaflow.store.log.some((e) => e.ev.type === 'error')")
    page.wait_for_timeout(6500)  # the words held longer than a notice stays up
    while not held:
        page.wait_for_timeout(50)
    held[0].continue_()
    page.wait_for_function(f"() => ({NOTICE})().includes('could not do')")
    page.wait_for_function("() => !document.querySelector('[data-notice]').hidden")
