"""While the network animates fast, the socket worker hands the page its phases once a tick."""

from typing import Any

from tests.e2e.helpers import SET_SPEED, open_preset

# every batch the socket worker posts to the page: when, and the types of its text events
COUNT = """() => { window.__batches = [];
  const W = window.Worker;
  window.Worker = class extends W {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", ({ data }) => {
        if (data?.op !== "batch") return;
        const types = data.items.filter((m) => typeof m === "string").map((t) => t.slice(9, t.indexOf('"', 9)));
        window.__batches.push([performance.now(), types]);
      });
    }
  }; }"""
PHASES = {"batch", "forward", "output_error", "backward", "update", "epoch", "outputs", "health"}


def test_a_fast_animation_reaches_the_page_once_a_tick_with_every_phase_in_order(page: Any) -> None:
    page.add_init_script(f"({COUNT})()")
    open_preset(page, "circle")
    page.evaluate(SET_SPEED, 40)  # static/pace.js: 30 phases a second
    page.locator('[data-action="animate"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.playing === 'animate'")
    page.wait_for_timeout(500)
    start = page.evaluate("() => window.__batches.length")
    page.wait_for_timeout(2000)
    batches = page.evaluate("() => window.__batches")[start:]
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")
    phases = [t for _, types in batches for t in types if t in PHASES]
    assert len(phases) >= 30, phases  # the animation went on: about 60 phases in 2 s
    times = [at for at, types in batches if PHASES & set(types)]  # a pong, say, still goes at once
    # at most one batch of phases a tick of 100 ms (and the window's ends), where each phase was a
    # task of its own before: 30 a second
    assert len(times) <= 2000 / 100 + 2, [(round(b[0] - a[0]), b[1]) for a, b in zip(batches, batches[1:])]
    order = ["batch", "forward", "output_error", "backward", "update"]
    steps = [t for t in phases if t in order]
    # each phase follows the one before it, or the same (a layer's forward and backward are one each)
    assert all(b == a or order.index(b) == (order.index(a) + 1) % 5 for a, b in zip(steps, steps[1:])), steps


# every animation frame the page asks for, counted beside the drawing loop's own (frameTimes)
RAFS = """() => { window.__rafs = 0;
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (fn) => raf((t) => { window.__rafs++; fn(t); }); }"""
# scrolls written to the step log: each lays the page out (it keeps to its end without them)
LOG_SCROLLS = """() => { window.__logScrolls = 0;
  const d = Object.getOwnPropertyDescriptor(Element.prototype, "scrollTop");
  Object.defineProperty(Element.prototype, "scrollTop", { ...d, set(v) {
    if (this.closest("[data-log]")) window.__logScrolls++;
    d.set.call(this, v); } }); }"""
# the log has grown past its box, and its newest line is in view at the box's foot
AT_END = """() => { const l = document.querySelector("[data-log] .log");
  const box = l.getBoundingClientRect(), last = l.querySelector("li:last-child").getBoundingClientRect();
  return l.scrollHeight > l.clientHeight && last.top >= box.top && Math.abs(last.bottom - box.bottom) <= 4; }"""
# scrolled back to its oldest line, as a person would: where that line then is in the box
SCROLL_BACK = """() => { const l = document.querySelector("[data-log] .log"); l.scrollBy(0, -l.scrollHeight);
  return l.querySelector("li").getBoundingClientRect().top - l.getBoundingClientRect().top; }"""
OLDEST_AT = """() => { const l = document.querySelector("[data-log] .log");
  return l.querySelector("li").getBoundingClientRect().top - l.getBoundingClientRect().top; }"""


def test_animating_asks_for_no_frame_beside_the_drawing_loops_and_the_log_keeps_to_its_end(page: Any) -> None:
    page.add_init_script(f"({RAFS})()")
    page.add_init_script(f"({LOG_SCROLLS})()")
    open_preset(page, "circle")
    page.locator("[data-log]").scroll_into_view_if_needed()  # a view off screen does not draw
    page.evaluate(SET_SPEED, 40)
    page.locator('[data-action="animate"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.playing === 'animate'")
    page.wait_for_timeout(500)
    before = page.evaluate("() => [window.__rafs, window.deltaflow.frameTimes.length]")
    page.wait_for_timeout(2000)
    after = page.evaluate("() => [window.__rafs, window.deltaflow.frameTimes.length]")
    page.wait_for_function(AT_END)  # the log has grown past its box and shows its newest line
    assert page.evaluate("() => window.__logScrolls") == 0
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")
    page.wait_for_function(AT_END)
    # scrolled back by a person, it stays where they put it as lines come
    top = page.evaluate(SCROLL_BACK)
    assert abs(top) <= 1, top
    page.wait_for_timeout(100)
    seq = page.evaluate("() => window.deltaflow.store.logSeq")
    page.locator('[data-action="step"]').click()
    page.wait_for_function("(n) => window.deltaflow.store.logSeq > n", arg=seq)
    page.wait_for_timeout(300)  # drawn by then
    assert abs(page.evaluate(OLDEST_AT) - top) <= 1
    rafs, frames = after[0] - before[0], after[1] - before[1]
    assert frames >= 10, (rafs, frames)  # it drew: about 10 ticks a second
    # the log's lines scrolled into view in a frame of their own, 4 a second, before
    assert rafs - frames <= 1, (rafs, frames)
