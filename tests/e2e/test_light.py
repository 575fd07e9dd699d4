"""The light page: a view off screen draws nothing while the network trains, and draws what it
missed once it is seen; without module workers the page reads the websocket itself."""

from typing import Any

from tests.e2e.conftest import Console, open_page
from tests.e2e.helpers import CANVAS_PIXELS, PANEL_DRAWS, SET_SPEED, fmt, open_preset, wait_phase

# how many times the view watching the element `sel` drew; whether that is more than n
DRAWS = "(sel) => window.deltaflow.schedule.entries.find((e) => e.v.watch === document.querySelector(sel)).draws"
MORE = """([sel, n]) => window.deltaflow.schedule.entries
  .find((e) => e.v.watch === document.querySelector(sel)).draws > n"""


def test_a_view_off_screen_draws_nothing_until_it_is_seen(browser: Any, server: str, console: Console) -> None:
    # 420 px high: the loss chart and the gradient strip sit below the fold
    with open_page(browser, server, console, height=420) as page:
        open_preset(page, "circle")
        page.locator('[data-action="train"]').click()
        page.wait_for_function("() => window.deltaflow.store.maps.seq > 5")
        hidden = page.evaluate(DRAWS, "[data-gradnorm]")
        seq = page.evaluate("() => window.deltaflow.store.maps.seq")
        page.wait_for_function("s => window.deltaflow.store.maps.seq > s + 10", arg=seq)
        assert page.evaluate(DRAWS, "[data-gradnorm]") == hidden  # frames came, it drew none
        shown = page.evaluate(DRAWS, "[data-net]")
        page.wait_for_function(MORE, arg=["[data-net]", shown])  # while the network on screen does
        page.locator("[data-gradnorm]").scroll_into_view_if_needed()
        page.wait_for_function(MORE, arg=["[data-gradnorm]", hidden])
        page.keyboard.press("Space")
        page.wait_for_function("() => window.deltaflow.store.server.playing === null")
    assert not console.errors, "\n".join(console.errors)


def test_without_workers_the_page_reads_the_socket_itself(browser: Any, server: str, console: Console) -> None:
    with open_page(browser, server, console) as page:
        page.add_init_script("delete window.Worker")
        open_preset(page, "circle")
        page.wait_for_function("() => window.deltaflow.store.maps.seq > 0")  # the binary maps, decoded
        page.locator('[data-action="train"]').click()
        page.wait_for_function("() => window.deltaflow.store.server.step > 20")
        page.keyboard.press("Space")
        page.wait_for_function("() => window.deltaflow.store.server.playing === null")
        assert page.evaluate("() => typeof Worker") == "undefined"
    assert not console.errors, "\n".join(console.errors)


# the path of every JS file the page has fetched so far
FETCHED = """() => performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname)
  .filter((p) => p.endsWith(".js"))"""


def fetched(page: Any, name: str) -> bool:
    return any(p.endswith("/" + name) for p in page.evaluate(FETCHED))


def test_rarely_needed_modules_load_when_first_needed(page: Any) -> None:
    open_preset(page, "circle")
    for name in ("views/equations.js", "views/lesson.js", "views/graph.js", "export.js"):
        assert not fetched(page, name), f"{name} was fetched at load"
    page.locator('[data-net] [data-neuron="1:0"]').click()  # a selection: its equations
    page.wait_for_selector("[data-explain-body] [data-select]")  # its weights, as buttons
    assert fetched(page, "views/equations.js")
    page.locator("[data-lesson-picker] summary").click()  # the picker: the lessons
    page.wait_for_selector("[data-lesson-pick]")
    assert fetched(page, "views/lesson.js")
    page.locator("[data-graph]").scroll_into_view_if_needed()  # the graph panel, once seen
    page.wait_for_selector("[data-graph-detail]")
    assert fetched(page, "views/graph.js")


# a mark on each of the explain panel's <math> elements, and the panel's text
MARK = """() => { const ms = [...document.querySelectorAll('[data-explain-body] math')];
  ms.forEach((m) => (m.__kept = true));
  return [ms.length, document.querySelector('[data-explain-body]').textContent]; }"""
KEPT = "() => [...document.querySelectorAll('[data-explain-body] math')].filter((m) => m.__kept).length"


def test_the_explain_panel_changes_only_its_numbers_when_the_equations_stay(page: Any) -> None:
    open_preset(page, "worked-example")
    page.keyboard.press("Shift+ArrowRight")  # a whole step
    wait_phase(page, "Update")
    page.locator('[data-net] [data-neuron="2:0"]').click()
    page.wait_for_function("() => document.querySelectorAll('[data-explain-body] math').length > 3")
    # On a loaded machine a step's events can arrive in two batches, and the panel then draws a
    # phase between (other equations) as well: a step drawn once shows the reuse alone.
    seen = []
    for _ in range(6):
        count, before = page.evaluate(MARK)
        draws = page.evaluate(DRAWS, "[data-explain]")
        page.keyboard.press("Shift+ArrowRight")
        page.wait_for_function("t => document.querySelector('[data-explain-body]').textContent !== t", arg=before)
        wait_phase(page, "Update")
        page.wait_for_timeout(300)  # a draw still due comes now (paused, the panel draws at once)
        seen.append((page.evaluate(DRAWS, "[data-explain]") - draws, page.evaluate(KEPT), count))
        if seen[-1] == (1, count, count):
            return  # new numbers in the same <math> elements: none was parsed and laid out anew
    raise AssertionError(f"no step kept its equations' elements: (draws, kept, of) {seen}")


def test_animating_fast_the_explain_panel_shows_the_last_whole_step_in_the_same_equations(page: Any) -> None:
    """At 30 phases a second the panel draws once a second: the equations of the step's last
    phase, the same elements each time with the numbers of the last whole step (a phase picked
    at random each second made new equations, the page's longest frame)."""
    open_preset(page, "circle")
    page.evaluate(SET_SPEED, 40)  # static/pace.js: 30 phases a second
    page.locator('[data-action="animate"]').click()
    # the equations (their module loads at the first selection), then one more draw of the panel
    page.wait_for_function("() => document.querySelectorAll('[data-explain-body] math').length >= 3")
    page.wait_for_function(MORE, arg=["[data-explain]", page.evaluate(DRAWS, "[data-explain]")])
    count, _ = page.evaluate(MARK)
    page.evaluate(PANEL_DRAWS)
    page.wait_for_function("() => new Set(window.__drawn.map((d) => d[1])).size >= 3")  # 3 steps drawn
    kept = page.evaluate(KEPT)
    drawn = page.evaluate("() => window.__drawn")
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")
    assert count >= 3 and kept == count, (kept, count)
    for text, step, grad, w, *_ in drawn:
        assert f"={fmt(grad)}" in text and f"={fmt(w)}" in text, (step, grad, w, text[:400])
        # its cost plot would be of an older step by the time it came: it waits for a pause
        assert "The cost along this weight: pause, or slow down, to see it." in text


def test_animating_fast_the_explain_panel_names_the_example_of_the_last_whole_step(page: Any) -> None:
    """Batches of 3 and 1 in turn (4 examples, 3 a batch), the third example highlighted and the
    input x1 picked: each draw names the example within the last whole step's own batch."""
    open_preset(page, "xor")
    page.evaluate("(c) => window.deltaflow.socket.send(c)", {"type": "set", "batch_size": 3})
    page.wait_for_function("() => window.deltaflow.store.server.scenario.batch_size === 3")
    for _ in range(2):  # whole steps on batches of 3 and 1: the next one has 3, and its third can be picked
        page.keyboard.press("Shift+ArrowRight")
        wait_phase(page, "Update")
    page.evaluate("(c) => window.deltaflow.socket.send(c)", {"type": "select", "example": 2})
    page.wait_for_function("() => window.deltaflow.store.server.selected === 2")
    page.locator('[data-net] [data-neuron="0:0"]').click()
    page.wait_for_function("() => document.querySelector('[data-explain-body]').textContent.includes('Input x')")
    page.evaluate(SET_SPEED, 40)
    page.locator('[data-action="animate"]').click()
    page.evaluate(PANEL_DRAWS)
    page.wait_for_function("() => new Set(window.__drawn.map((d) => d[5])).size === 2", timeout=20_000)  # both sizes
    drawn = page.evaluate("() => window.__drawn")
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")
    for text, *_, k, m in drawn:
        assert f"Example {k} of a batch of {m}" in text, (k, m, text[:300])


# the middle of an edge's hit line
MIDDLE = """(sel) => { const ln = document.querySelector(sel);
  const mid = (a, b) => (+ln.getAttribute(a) + +ln.getAttribute(b)) / 2;
  return [mid('x1', 'x2'), mid('y1', 'y2')]; }"""


def test_edges_are_drawn_on_the_canvas_in_the_colour_of_their_sign(page: Any) -> None:
    open_preset(page, "circle")
    w = page.evaluate("() => window.deltaflow.store.weights")
    L = len(w)
    # the edges into the one output: they meet only there, so each midpoint is its own
    for i, v in enumerate(w[L - 1][0]):
        at = page.evaluate(MIDDLE, f'[data-weight="{L}:0:{i}"] .hit')
        mid, corner = page.evaluate(CANVAS_PIXELS, ["[data-net] canvas.net-edges", [at, [1, 1]]])
        assert mid[3] > 0 and corner[3] == 0, (mid, corner)
        orange = mid[0] > mid[2]  # the page's colours: orange for w > 0, blue for w < 0
        assert orange == (v > 0), (i, v, mid)
