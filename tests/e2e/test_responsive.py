"""The page never blocks on the server: every main control shows its effect, or a message,
within 100 ms of the input, timed in the page (the input event's timeStamp to the first DOM
change after it, seen by a MutationObserver), with every command held back 1.5 s on its way
to the server, so that nothing the server answers can count."""

from typing import Any

import pytest

from tests.e2e.helpers import open_preset

pytestmark = pytest.mark.browser

LIMIT_MS = 100
SERVER_DELAY_MS = 1500

# Watches the DOM: the time of the last change (for quiet), and, once armed, the time from
# the first input event to the first change (within `within`, when given) that follows it.
INSTALL = """delay => {
  const m = (window.__lat = { armed: false, t0: null, took: null, last: performance.now(), within: null });
  const inside = (node) => {
    const e = node.nodeType === 1 ? node : node.parentElement;
    return !m.within || !!e?.closest(m.within);
  };
  new MutationObserver((records) => {
    const now = performance.now();
    m.last = now;
    if (m.t0 !== null && m.took === null && records.some((r) => inside(r.target))) m.took = now - m.t0;
  }).observe(document.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });
  for (const type of ["pointerdown", "keydown", "input", "change"]) {
    window.addEventListener(type, (e) => {
      if (m.armed && m.t0 === null) m.t0 = e.timeStamp; // when the input happened
    }, true);
  }
  // every command reaches the server late: what shows at once is the page's own doing
  const socket = window.deltaflow.socket;
  const send = socket.send.bind(socket);
  socket.send = (cmd) => {
    setTimeout(() => send(cmd), delay);
    return true;
  };
}"""


def quiet(page: Any, ms: int = 400) -> None:
    """Until the last command is answered and nothing on the page has changed for `ms` since (the
    server's late answers drawn). Else a command sent while the one before still waits would
    change nothing: the page already says it is working on one."""
    page.wait_for_function(
        "ms => !window.deltaflow.store.waiting && performance.now() - window.__lat.last > ms",
        arg=ms,
        polling=50,
        timeout=15_000,
    )


def timed(page: Any, what: str, act: Any, within: str | None = None, settle: bool = True) -> float:
    if settle:
        quiet(page)
    page.evaluate("w => Object.assign(window.__lat, { armed: true, t0: null, took: null, within: w })", within)
    act()
    page.wait_for_function("() => window.__lat.took !== null", timeout=SERVER_DELAY_MS - 200)
    took: float = page.evaluate("() => (window.__lat.armed = false, window.__lat.took)")
    assert took < LIMIT_MS, f"{what}: the first visible change came {took:.0f} ms after the input"
    return took


def test_every_control_answers_within_100_ms_without_the_server(page: Any) -> None:
    """Measured once more on a fresh page when a figure is over: on a shared machine of two
    cores a long task of another process can delay one input now and then (one run in three
    here); a page that blocks on the server is over the limit every time."""
    try:
        every_control(page)
    except AssertionError:
        every_control(page)


def every_control(page: Any) -> None:
    open_preset(page, "xor")
    page.evaluate(INSTALL, SERVER_DELAY_MS)
    key = page.keyboard.press
    click = lambda sel: lambda: page.locator(sel).first.click()  # noqa: E731
    took = {
        "next (→)": timed(page, "next", lambda: key("ArrowRight")),
        "next (button)": timed(page, "next button", click('[data-action="next"]')),
        "step (⇧→)": timed(page, "step", lambda: key("Shift+ArrowRight")),
        "step (button)": timed(page, "step button", click('[data-action="step"]')),
        "back (←)": timed(page, "back", lambda: key("ArrowLeft")),
        "back (button)": timed(page, "back button", click('[data-action="back"]')),
    }
    # the speed control: a keyboard step on the slider
    page.locator("[data-speed]").focus()
    took["speed"] = timed(page, "speed", lambda: key("ArrowRight"))
    page.locator("[data-speed]").blur()
    took["precision"] = timed(page, "precision", lambda: page.locator("[data-digits]").select_option("7"))
    took["numbers (N)"] = timed(page, "numbers", lambda: key("n"))
    took["numbers off (N)"] = timed(page, "numbers off", lambda: key("n"))
    took["presenter (P)"] = timed(page, "presenter", lambda: key("p"))
    took["presenter off (button)"] = timed(page, "presenter off", click('[data-action="presenter"]'))
    took["add a layer"] = timed(page, "add a layer", click('[data-arch="add"]'))
    took["remove a layer"] = timed(page, "remove a layer", click('[data-arch="remove"]'))
    took["preset"] = timed(page, "preset", click('[data-preset="circle"]'))
    took["play (Space)"] = timed(page, "play", lambda: key(" "))
    # while it animates the page changes all the time: the pause must show where the transport is
    page.wait_for_function("() => window.deltaflow.store.server.playing === 'animate'", timeout=5000)
    page.wait_for_timeout(300)
    took["pause (Space)"] = timed(page, "pause", lambda: key(" "), "[data-conn], .transport", settle=False)
    page.wait_for_function("() => window.deltaflow.store.server.playing === null", timeout=5000)
    took["play (button)"] = timed(page, "play button", click('[data-action="animate"]'))
    page.wait_for_function("() => window.deltaflow.store.server.playing === 'animate'", timeout=5000)
    page.wait_for_timeout(300)
    transport = "[data-conn], .transport"
    took["pause (button)"] = timed(page, "pause button", click('[data-action="animate"]'), transport, False)
    assert max(took.values()) < LIMIT_MS, took
