"""The page under a sub-path, as behind a reverse proxy at /deltaflow/: `deltaflow serve
--root-path /deltaflow` answers under the prefix, and every URL the page uses (modules, the
websocket, the preset API) is relative to the page, so it loads, connects and steps there,
under its CSP."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Console
from tests.live import serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def prefixed() -> Iterator[str]:
    try:
        with serve(args=["--root-path", "/deltaflow"]) as url:
            yield url
    except RuntimeError as e:
        pytest.fail(str(e))


def test_the_page_works_under_a_root_path(browser: Any, prefixed: str, console: Console) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    page.on("console", console.on_console)
    page.on("pageerror", console.on_error)
    requests: list[str] = []
    sockets: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{prefixed}/deltaflow?preset=xor")  # no trailing slash: redirected to the page
    assert page.url == f"{prefixed}/deltaflow/?preset=xor"
    page.wait_for_function(
        """() => {
          const s = window.deltaflow?.store;
          return s?.conn.status === "open" && s.server?.scenario.name === "xor";
        }"""
    )
    page.click('[data-action="step"]')
    page.wait_for_function("() => window.deltaflow.store.server.step === 1")
    page.wait_for_timeout(300)  # the preset thumbnails have fetched their documents
    ctx.close()
    assert not console.errors, "\n".join(console.errors)
    assert requests[0] == f"{prefixed}/deltaflow?preset=xor"
    outside = [u for u in requests[1:] if not u.startswith((f"{prefixed}/deltaflow/", "data:"))]
    assert not outside, f"requests outside the prefix: {outside}"
    assert any(u.startswith(f"{prefixed}/deltaflow/api/presets/") for u in requests)
    assert sockets and all(u.startswith(prefixed.replace("http", "ws") + "/deltaflow/ws") for u in sockets)
