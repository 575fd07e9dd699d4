"""While the network plays, the page draws on one clock (static/schedule.js): the views that draw
while training share each frame, and a pause shows on the buttons in the click's own task."""

from typing import Any

from tests.e2e.helpers import open_preset

# from now on, the time of each frame in which a view drew (a frame's views share its time)
LOG = """() => { window.__drew = new Set();
  for (const e of window.deltaflow.schedule.entries) {
    const draw = e.v.draw;
    e.v.draw = (now, seen) => { window.__drew.add(now); return draw(now, seen); };
  } }"""
DREW = "() => [...window.__drew].sort((a, b) => a - b)"


def test_views_draw_only_on_the_ticks_of_one_clock_while_training(page: Any) -> None:
    open_preset(page, "circle")
    page.locator('[data-action="train"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.step > 50")
    page.evaluate(LOG)
    page.wait_for_timeout(500)  # past the start of training (its first maps, a lazy module, ...)
    page.evaluate("() => window.__drew.clear()")
    step = page.evaluate("() => window.deltaflow.store.server.step")
    page.wait_for_timeout(2000)
    times = page.evaluate(DREW)
    assert page.evaluate("() => window.deltaflow.store.server.step") > step  # frames came meanwhile
    gaps = [b - a for a, b in zip(times, times[1:])]
    # 10 Hz views, 4 Hz ones and those of no rate all draw in frames 100 ms apart (a frame's time
    # is its vsync's, 16.7 ms apart), never in frames of their own between the ticks
    assert 5 <= len(times) <= 2000 / 100 + 1, times  # at most a frame a tick
    assert min(gaps) > 100 - 17 - 1, gaps
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")


# a click on the pressed Train button, and what the button says right after it, in the same task
CLICK = """() => { const b = document.querySelector('[data-action="train"]');
  b.click(); return [b.getAttribute("aria-pressed"), b.querySelector("span").textContent]; }"""


PRESSED = """() => document.querySelector('[data-action="train"]').getAttribute("aria-pressed") === 'true'"""


def test_a_pause_shows_on_the_button_before_the_server_answers(page: Any) -> None:
    open_preset(page, "circle")
    page.locator('[data-action="train"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.playing === 'train'")
    pressed, label = page.evaluate(CLICK)
    assert pressed == "false" and label == "Train", (pressed, label)
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")  # then the server's answer
    page.wait_for_timeout(300)  # frames drawn after the answer keep it
    assert page.locator('[data-action="train"]').get_attribute("aria-pressed") == "false"
    # and Train again plays at once, though the answer to the pause came only just before
    page.locator('[data-action="train"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.playing === 'train'")
    page.wait_for_function(PRESSED)
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")
