"""What has not changed is not drawn or written again: the output map's canvas stays as it is
when nothing it shows changed, the status line writes no attribute it already has, the
network's labels get no class they already have, and the counters draw 4 times a second while
training."""

from typing import Any

from tests.e2e.helpers import open_preset

# from now on, how many times the output map's canvas was filled (each draw fills it first)
COUNT_HEAT = """() => { window.__heat = 0;
  const fill = CanvasRenderingContext2D.prototype.fillRect;
  CanvasRenderingContext2D.prototype.fillRect = function (...a) {
    if (this.canvas.classList.contains("heat")) window.__heat++;
    return fill.apply(this, a); }; }"""
HEAT = "() => window.__heat"
# the schedule's draws of each view
# the status line's draws: the one view whose topics name it
STATUS_DRAWS = "() => window.deltaflow.schedule.entries.find((e) => e.v.topics.includes('status')).draws"
NET_DRAWS = (
    "() => window.deltaflow.schedule.entries.find((e) => e.v.watch === document.querySelector('[data-net]')).draws"
)
NET_MORE = "(n) => " + NET_DRAWS.removeprefix("() => ") + " > n"

# from now on, every attribute written in the page, as "element-class attribute"
WATCH = """() => { window.__written = [];
  new MutationObserver((ms) => { for (const m of ms) window.__written.push(
      `${m.target.getAttribute("class") || m.target.tagName} ${m.attributeName}`); })
    .observe(document.body, { attributes: true, subtree: true }); }"""
WRITTEN = "() => window.__written"


def test_the_output_map_draws_only_what_changed(page: Any) -> None:
    open_preset(page, "circle")
    page.evaluate(COUNT_HEAT)
    net = page.evaluate(NET_DRAWS)
    page.keyboard.press("n")  # the network's numbers: every view draws again, the map is the same
    page.wait_for_function(NET_MORE, arg=net)
    page.wait_for_timeout(300)
    assert page.evaluate(HEAT) == 0
    # a step's batch: the map rings its points
    page.evaluate("() => window.deltaflow.socket.send({ type: 'next' })")
    page.wait_for_function("() => window.__heat > 0")


def test_the_output_map_follows_new_maps_while_training(page: Any) -> None:
    open_preset(page, "circle")
    page.evaluate(COUNT_HEAT)
    seq = page.evaluate("() => window.deltaflow.store.maps.seq")
    page.locator('[data-action="train"]').click()
    page.wait_for_function("s => window.deltaflow.store.maps.seq > s + 5 && window.__heat > 3", arg=seq)
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")


def test_training_writes_no_attribute_or_class_it_already_has(page: Any) -> None:
    open_preset(page, "three-class")
    page.locator('[data-action="train"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.step > 50")
    page.wait_for_timeout(1200)  # past the network's first labels' fitting
    page.evaluate(WATCH)
    step = page.evaluate("() => window.deltaflow.store.server.step")
    page.wait_for_timeout(2500)  # the labels are fitted again each second of training
    written = page.evaluate(WRITTEN)
    assert page.evaluate("() => window.deltaflow.store.server.step") > step + 20
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")
    # the neurons' colours change as they train; what the status line and the labels already
    # say is not written again
    same = [w for w in written if w.split(" ")[-1] in ("class", "hidden", "data-status", "data-kind")]
    assert not same, sorted(set(same))
    assert any(w == "body fill" for w in written)  # the network did draw meanwhile


def test_the_counters_draw_four_times_a_second_while_training(page: Any) -> None:
    open_preset(page, "circle")
    page.locator('[data-action="train"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.step > 50")
    before = page.evaluate(STATUS_DRAWS)
    page.wait_for_timeout(2000)
    after = page.evaluate(STATUS_DRAWS)
    status, net = after - before, page.evaluate(NET_DRAWS)
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")
    # at 250 ms on a 100 ms clock: a draw every 3rd tick
    assert 2 <= status <= 2000 / 300 + 2, status
    assert net > 0
    # paused, the buttons show it at once
    assert page.locator('[data-action="train"]').get_attribute("aria-pressed") == "false"
