"""The page rows: frame rates of the page in headless Chromium, and the JS and CSS it loads."""

import contextlib
from pathlib import Path
from typing import Any

from benchmarks.common import CHROMIUM, CHROMIUM_ARGS, ROOT, percentile

RAF_PROBE = """(ms) => new Promise(done => {
  const ts = [], t0 = performance.now();
  const tick = t => { ts.push(t); if (t - t0 < ms) requestAnimationFrame(tick); else done(ts); };
  requestAnimationFrame(tick);
})"""
PAGE_BYTES = """() => performance.getEntriesByType("resource")
  .filter(e => /\\.(m?js|css)$/.test(new URL(e.name).pathname))
  .reduce((n, e) => n + (e.decodedBodySize || e.encodedBodySize || 0), 0)"""
# animate at the page's own speed setting, as its Animate button does
SEND = """cmd => { const d = window.deltaflow; if (!d || !d.socket) return null;
  if (cmd.mode === "animate") cmd.speed = (d.store && d.store.view && d.store.view.speed) || 4;
  return d.socket.send(cmd) === false ? null : cmd; }"""
READY = "() => { const d = window.deltaflow; return !!(d && d.socket && d.socket.connected !== false); }"


def fps_of(times: list[float]) -> float | None:
    """Frames per second from the median interval between rAF timestamps (ms)."""
    gaps = [b - a for a, b in zip(times, times[1:]) if b > a]
    return 1000.0 / percentile(gaps, 50) if gaps else None


async def page_fps(page: Any, seconds: float) -> tuple[float | None, str]:
    """The frame rate a rAF-driven animation gets beside the page over `seconds` (a rAF probe):
    the page asks for frames only when it has something to draw, so its own frameTimes count
    the frames it drew, not how smooth it is."""
    probe = await page.evaluate(RAF_PROBE, seconds * 1000)
    return fps_of(probe), "raf-probe"


async def drive(page: Any, cmd: dict[str, Any]) -> dict[str, Any] | None:
    """Send a command through the page's own socket (the command sent, or None if it has none);
    without one, Space (play/pause in the last mode) is all that can be pressed."""
    with contextlib.suppress(Exception):
        sent = await page.evaluate(SEND, cmd)
        if sent:
            return dict(sent)
    await page.keyboard.press("Space")
    return None


async def browser_rows(base: str, seconds: float) -> dict[str, Any]:
    """Frame rate of the page animating and training circle, and the JS + CSS it fetched."""
    out: dict[str, Any] = {"browser_fps_animate": None, "browser_fps_train": None, "page_bytes_fetched": None}
    if not Path(CHROMIUM).exists():
        out["browser_note"] = f"{CHROMIUM} not found"
        return out
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            resp = await page.goto(base + "/", wait_until="load")
            if resp is None or not resp.ok:
                out["browser_note"] = f"GET / answered {resp.status if resp else 'nothing'}"
                return out
            with contextlib.suppress(Exception):
                await page.wait_for_function(READY, timeout=5000)
            await page.wait_for_load_state("networkidle")
            out["page_bytes_fetched"] = await page.evaluate(PAGE_BYTES)
            animate = await drive(page, {"type": "play", "mode": "animate"})
            out["browser_fps_animate"], source = await page_fps(page, seconds)
            await drive(page, {"type": "pause"})
            await drive(page, {"type": "play", "mode": "train", "fps": 30})
            out["browser_fps_train"], _ = await page_fps(page, seconds)
            await drive(page, {"type": "pause"})
            how = f"window.deltaflow.socket (animate speed {animate['speed']}/s)" if animate else "the keyboard"
            out["browser_note"] = f"driven by {how}; fps from {source}"
        finally:
            await browser.close()
    return out


def static_bytes() -> int:
    """JS and CSS under static/ on disk: what the page could load at most."""
    return sum(p.stat().st_size for ext in ("*.js", "*.css") for p in (ROOT / "static").rglob(ext))
