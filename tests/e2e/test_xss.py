"""User text is shown as text, never run or parsed as HTML: scenario names, titles and
descriptions (through the websocket and the page's JSON import), error messages that quote
the input, and the URL's state.

Each test runs twice: with the page's CSP, which must report no violation, and with the CSP
bypassed, so that the page's own rendering is what is tested (an injected handler would run
and open a dialog)."""

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.conftest import Console

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    "javascript:alert(3)",
    "<svg onload=alert(4)>",
    '"><img src=x onerror=alert(5)>',
    "'><svg/onload=alert(6)>",
    '<a href="javascript:alert(7)">link</a>',
    "<math><mi href=javascript:alert(8)>m</mi></math>",
    "<iframe src=javascript:alert(9)></iframe>",
]
NAME = PAYLOADS[0] + PAYLOADS[4]  # a name holds at most 100 characters
TITLE = PAYLOADS[1] + PAYLOADS[3] + PAYLOADS[5]
DESCRIPTION = " ".join(PAYLOADS)

# Records, from before the page's first script, every element added or changed that carries an
# on* attribute or a javascript: URL, or is an img, iframe, object or embed (the page has none
# but the preset picker's pictures, from the server's own template), or a script that calls alert.
WATCH = """
window.__xss = [];
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
const URLS = ["href", "src", "action", "formaction", "data", "xlink:href"];
const bad = (el) => {
  if (el.nodeType !== 1) return false;
  for (const a of el.attributes) {
    if (a.name.toLowerCase().startsWith("on")) return true;
    const url = a.value.replace(/[\\s\\x00-\\x1f]/g, "");
    if (URLS.includes(a.name.toLowerCase()) && /^javascript:/i.test(url)) return true;
  }
  const tag = el.localName;
  if (tag === "script") return /alert\\(/.test(el.textContent + el.src);
  if (tag === "img" && el.matches("button.preset[data-preset] > img.thumb") && el.attributes.length === 5
    && el.getAttribute("src") === `api/presets/${el.parentNode.dataset.preset}/thumb.svg`) return false;
  return ["img", "iframe", "object", "embed"].includes(tag);
};
const check = (el) => {
  for (const d of [el, ...(el.querySelectorAll ? el.querySelectorAll("*") : [])]) {
    if (bad(d)) window.__xss.push(d.outerHTML.slice(0, 200));
  }
};
new MutationObserver((records) => {
  for (const r of records) {
    if (r.type === "attributes") check(r.target);
    for (const n of r.addedNodes) check(n);
  }
}).observe(document, { childList: true, subtree: true, attributes: true });
"""


@pytest.fixture(params=[False, True], ids=["with-csp", "csp-bypassed"])
def page(request: Any, browser: Any, server: str, console: Console) -> Iterator[Any]:
    """A page that records dialogs, injected elements and CSP violations; all must stay empty."""
    bypass = request.param
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=server, bypass_csp=bypass)
    ctx.add_init_script(WATCH)
    pg = ctx.new_page()
    pg.set_default_timeout(10_000)
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.on("console", console.on_console)
    pg.on("pageerror", console.on_error)
    yield pg
    injected = pg.evaluate("window.__xss")
    violations = pg.evaluate("window.__csp")
    ctx.close()
    assert not dialogs, f"a dialog opened: {dialogs}"
    assert not injected, f"elements were injected: {injected}"
    assert not violations, f"the CSP blocked something the page tried: {violations}"
    # the browser logs the server's refusals of what the URL names: a preset that does not exist
    # (404), a scenario it describes that is not valid (422, stored for a link); nothing else may be
    errors = [e for e in console.errors if "404 (Not Found)" not in e and "422 (Unprocessable" not in e]
    assert not errors, "\n".join(errors)


def ready(page: Any, name: str) -> None:
    page.wait_for_function(
        """name => {
          const s = window.deltaflow?.store;
          return s?.conn.status === "open" && s.server?.scenario.name === name;
        }""",
        arg=name,
    )


def evil_doc(page: Any) -> dict[str, Any]:
    doc: dict[str, Any] = page.evaluate("fetch('api/presets/xor').then((r) => r.json())")
    return {**doc, "name": NAME, "title": TITLE, "description": DESCRIPTION}


def exercise(page: Any) -> None:
    """Step, explain a neuron, export, and open the help: every view draws the scenario."""
    page.click('[data-action="step"]')
    page.wait_for_function("() => window.deltaflow.store.server.step === 1")
    page.locator("[data-net] [data-neuron]").last.click(force=True)
    page.keyboard.press("ArrowRight")
    for export in ("export-png", "export-json"):  # the PNG goes through a blob: image, which the CSP allows
        with page.expect_download():
            page.click(f'[data-action="{export}"]')
    page.keyboard.press("?")
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)  # a few frames: every view has drawn


def test_a_scenario_loaded_over_the_websocket_is_shown_as_text(page: Any) -> None:
    page.goto("/?preset=xor")
    ready(page, "xor")
    page.evaluate("doc => window.deltaflow.socket.send({ type: 'load', scenario: doc })", evil_doc(page))
    ready(page, NAME)
    assert page.text_content("[data-title]") == TITLE
    exercise(page)
    page.click('[data-action="copy-link"]')


def test_a_scenario_imported_from_a_file_is_shown_as_text(page: Any) -> None:
    page.goto("/?preset=xor")
    ready(page, "xor")
    doc = evil_doc(page)
    page.set_input_files(
        "[data-import]", files=[{"name": "x.json", "mimeType": "application/json", "buffer": json.dumps(doc).encode()}]
    )
    ready(page, NAME)
    assert page.text_content("[data-title]") == TITLE
    exercise(page)


def test_error_messages_that_quote_the_input_are_shown_as_text(page: Any) -> None:
    page.goto("/?preset=xor")
    ready(page, "xor")
    doc = {**evil_doc(page), PAYLOADS[0]: 1}  # an unknown key: the error message names it
    page.evaluate("doc => window.deltaflow.socket.send({ type: 'load', scenario: doc })", doc)
    page.evaluate("p => window.deltaflow.socket.send({ type: 'load', preset: p })", PAYLOADS[3])
    page.wait_for_function("p => document.querySelector('[data-log]').textContent.includes(p)", arg=PAYLOADS[3])
    assert PAYLOADS[0] in page.text_content("[data-log]")


def test_url_state_is_read_as_data(page: Any) -> None:
    keys = ["data", "n", "seed", "layers", "act", "init", "loss", "opt", "lr", "batch", "reg", "speed", "digits"]
    query = "&".join(f"{k}={quote(PAYLOADS[i % len(PAYLOADS)])}" for i, k in enumerate(keys))
    page.goto(f"/?preset=xor&{query}#{quote(PAYLOADS[0])}")
    # the server refuses the scenario, and its answer quotes the optimizer's payload
    page.wait_for_function("p => document.querySelector('[data-notice]').textContent.includes(p)", arg=PAYLOADS[7])
    exercise(page)
    page.goto(f"/?preset={quote(PAYLOADS[0])}")
    page.wait_for_function("p => document.querySelector('[data-notice]').textContent.includes(p)", arg=PAYLOADS[0])


def test_the_watch_sees_an_injection(browser: Any, server: str) -> None:
    """The checks above can fail: an element injected as HTML is recorded, and its handler runs."""
    ctx = browser.new_context(base_url=server, bypass_csp=True)
    ctx.add_init_script(WATCH)
    pg = ctx.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.goto("/?preset=xor")
    ready(pg, "xor")
    pg.evaluate("p => document.querySelector('[data-title]').insertAdjacentHTML('beforeend', p)", PAYLOADS[0])
    pg.wait_for_function("() => window.__xss.length > 0")
    pg.wait_for_timeout(200)
    ctx.close()
    assert dialogs == ["1"]
