"""The light page: a view off screen draws nothing while the network trains, and draws what it
missed once it is seen; without module workers the page reads the websocket itself."""

from typing import Any

from tests.e2e.conftest import Console, open_page
from tests.e2e.helpers import open_preset

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
