"""A full server: the page says so, backs off instead of retrying four times a second, and gets
a session once one is free."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Console
from tests.live import serve

pytestmark = pytest.mark.browser
# when the page opened each websocket (ms since it loaded); the socket itself lives in a worker
SOCKETS = "() => window.deltaflow.socket.attempts"


@pytest.fixture
def one_session_server() -> Iterator[str]:
    with serve(env={"DELTAFLOW_MAX_SESSIONS": "1"}) as url:
        yield url


def test_a_full_server_is_shown_and_retried_ever_more_slowly(browser: Any, one_session_server: str) -> None:
    console = Console()
    first = browser.new_context(base_url=one_session_server)
    second = browser.new_context(base_url=one_session_server)
    try:
        a = first.new_page()
        a.goto("/")
        a.wait_for_function("() => window.deltaflow?.store.conn.status === 'open'")
        b = second.new_page()
        b.on("console", console.on_console)
        b.on("pageerror", console.on_error)
        b.goto("/")
        b.wait_for_function("() => window.deltaflow?.store.conn.status === 'full'")
        label = b.locator("[data-conn]")
        b.wait_for_function("() => document.querySelector('[data-conn]').textContent.startsWith('The server is full')")
        assert label.get_attribute("data-status") == "full"
        assert "full" in (b.locator("[data-notice]").text_content() or "")
        b.wait_for_function("() => performance.now() - window.deltaflow.socket.attempts[0] > 4500", polling=100)
        times = b.evaluate(SOCKETS)
        attempts = [t for t in times if t - times[0] <= 4500]
        # waits of 1, 2, 4 s (±25%): at most 3 tries in 4.5 s, where a fixed 250 ms made 18
        assert 2 <= len(attempts) <= 3, attempts
        a.close()  # its session, never used, is discarded: room for the next try
        b.wait_for_function("() => window.deltaflow.store.conn.status === 'open'", timeout=15_000)
        assert b.evaluate("() => window.deltaflow.store.server.step") == 0
    finally:
        first.close()
        second.close()
    assert not console.errors, "\n".join(console.errors)
