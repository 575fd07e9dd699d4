"""Browser tests: the real server in a subprocess on a free loopback port, driven by Debian's
Chromium through Playwright's sync API (a hand-written fixture, not pytest-playwright)."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from benchmarks.common import CHROMIUM, CHROMIUM_ARGS  # one list of flags for both
from tests.live import serve

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="package")
def server() -> Iterator[str]:
    """The app under uvicorn, as `deltaflow serve` runs it; its own process keeps its warnings apart."""
    try:
        with serve() as url:
            yield url
    except RuntimeError as e:
        pytest.fail(str(e))


# package scope: Playwright's sync API holds an event loop in this thread while it runs,
# which must be gone before later tests call asyncio.run()
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Console:
    """Console errors and uncaught exceptions of one page."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def on_console(self, msg: Any) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text}")

    def on_error(self, err: Any) -> None:
        self.errors.append(f"page error: {err}")


@pytest.fixture
def console() -> Console:
    return Console()


@contextmanager
def open_page(browser: Any, server: str, console: Console, width: int = 1280, height: int = 720) -> Iterator[Any]:
    """A fresh page in its own context (its own storage, as another person's browser).

    The page's CSP forbids eval: give wait_for_function and evaluate a function ("() => ...")
    rather than an expression, which Playwright would evaluate as a string."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, base_url=server)
    pg = ctx.new_page()
    pg.set_default_timeout(10_000)
    pg.on("console", console.on_console)
    pg.on("pageerror", console.on_error)
    yield pg
    ctx.close()


@pytest.fixture
def page(browser: Any, server: str, console: Console) -> Iterator[Any]:
    """A fresh 1280x720 page; the test fails on any console error it leaves behind."""
    with open_page(browser, server, console) as pg:
        yield pg
    assert not console.errors, "\n".join(console.errors)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
