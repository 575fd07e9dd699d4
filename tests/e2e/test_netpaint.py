"""The network's canvases (edges, neuron maps) are drawn in a worker once the network plays on a
slow machine, so their raster leaves the page's main thread; what they show is still the server's: edges in the
colour of their weight's sign, maps in the colours of the server's maps. The exports read their
pictures from the worker; a browser that cannot hand a canvas over draws them in the page."""

import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Console, open_page
from tests.e2e.helpers import CANVAS_PIXELS, open_preset, wait_phase

# whether each canvas was handed over: one that was gives no context to the page
HANDED = """() => [...document.querySelectorAll('[data-net] canvas')].map((c) => {
  try { c.getContext('2d'); return false; } catch { return true; } })"""

# the middle of each edge into output 0
MIDDLES = """(L) => [...document.querySelectorAll(`[data-weight^="${L}:0:"] .hit`)].map((ln) =>
  [(+ln.getAttribute('x1') + +ln.getAttribute('x2')) / 2, (+ln.getAttribute('y1') + +ln.getAttribute('y2')) / 2])"""

# each hidden neuron's centre, and the range of each colour channel over its map's 8 x 8
# central pixels, coloured as the page colours the store's maps (the server's, after a pause)
MAP_CENTRES = """async () => {
  const { lut } = await import('./static/paint.js');
  const s = window.deltaflow.store;
  const out = [];
  for (const [key, m] of s.maps.byKey) {
    const [l, j] = key.split(':').map(Number);
    if (l === 0 || l === s.layers.length - 1) continue;
    const t = document.querySelector(`[data-neuron="${key}"]`).getAttribute('transform');
    const [x, y] = t.match(/[-\\d.]+/g).map(Number);
    const colours = lut(m.lo, m.hi, 0, 1);
    const R = m.res, c = R / 2, lo = [255, 255, 255], hi = [0, 0, 0];
    for (let r = c - 4; r < c + 4; r++) for (let q = c - 4; q < c + 4; q++) {
      const v = colours[m.data[r * R + q]];
      [v & 255, (v >> 8) & 255, (v >> 16) & 255].forEach((ch, k) => {
        lo[k] = Math.min(lo[k], ch);
        hi[k] = Math.max(hi[k], ch);
      });
    }
    out.push({ key, at: [x, y], lo, hi, seq: s.maps.seq });
  }
  return out; }"""


def train_then_pause(page: Any, handed: bool = True) -> None:
    """Train, as on a slow machine (the CPU throttled 6x) when the canvases are to be handed
    over: a fast one keeps drawing them in the page (docs/performance.md)."""
    cdp = page.context.new_cdp_session(page)
    if handed:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 6})
    page.locator('[data-action="train"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.step > 100")
    if handed:  # the hand-over comes at a draw while playing, once the worker's side has loaded
        page.wait_for_function(f"() => ({HANDED})().every(Boolean)")
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")


# the page's rule for a slow machine, on lists of playing draws' times (ms, newest last)
SLOW_MACHINE = """async (runs) => {
  const { slowMachine } = await import('./static/views/netlayers.js');
  return runs.map(slowMachine); }"""


def edges_match_signs(page: Any) -> None:
    w = page.evaluate("() => window.deltaflow.store.weights")
    L = len(w)
    points = page.evaluate(MIDDLES, L)
    assert len(points) == len(w[L - 1][0])
    *mids, corner = page.evaluate(CANVAS_PIXELS, ["[data-net] canvas.net-edges", [*points, [1, 1]]])
    assert corner[3] == 0, corner
    for i, (v, mid) in enumerate(zip(w[L - 1][0], mids)):
        assert mid[3] > 0, (i, mid)
        assert (mid[0] > mid[2]) == (v > 0), (i, v, mid)  # orange for w > 0, blue for w < 0


def maps_match_server(page: Any) -> None:
    """Each hidden neuron's map, at its centre, in the colours of the server's map there (the
    worker draws the maps a moment after the page has them: a few tries)."""
    bad: list[Any] = []
    for _ in range(20):
        want = page.evaluate(MAP_CENTRES)
        got = page.evaluate(CANVAS_PIXELS, ["[data-net] canvas.net-maps", [w["at"] for w in want]])
        bad = [
            (w["key"], px, w["lo"], w["hi"])
            for w, px in zip(want, got)
            if px[3] != 255 or any(not lo - 2 <= p <= hi + 2 for p, lo, hi in zip(px, w["lo"], w["hi"]))
        ]
        if want and not bad:
            return
        time.sleep(0.25)
    assert want and not bad, bad


def test_the_network_canvases_are_drawn_in_a_worker_once_it_plays_on_a_slow_machine(page: Any) -> None:
    open_preset(page, "circle")
    assert page.evaluate(HANDED) == [False, False]  # at rest the page draws them (no worker fetched)
    train_then_pause(page)
    assert page.evaluate(HANDED) == [True, True]
    edges_match_signs(page)
    maps_match_server(page)
    # and the next state is drawn there too: a step changes the weights
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")  # the step's last phase, its gradients' overlay gone
    edges_match_signs(page)
    maps_match_server(page)


def test_the_exports_embed_the_pictures_the_worker_drew(page: Any, tmp_path: Path) -> None:
    open_preset(page, "circle")
    train_then_pause(page)
    assert page.evaluate(HANDED) == [True, True]
    with page.expect_download() as dl:
        page.locator('[data-action="export-svg"]').click()
    text = Path(dl.value.path()).read_text()
    images = text.split("<image")[1:]
    assert len(images) == 2
    assert all('href="data:image/png;base64,' in i for i in images)
    # the edges' picture as the page sees it: at least one edge, and the SVG parses
    sizes = page.evaluate(
        """async () => Promise.all([...document.querySelectorAll('[data-net] canvas')].map(async (c) => {
          const img = new Image(); img.src = await c.snapshot(); await img.decode();
          return [img.width, img.height]; }))"""
    )
    w, h = page.evaluate(
        """() => { const r = document.querySelector('[data-net] canvas').getBoundingClientRect();
          return [Math.round(r.width * devicePixelRatio), Math.round(r.height * devicePixelRatio)]; }"""
    )
    assert sizes == [[w, h], [w, h]]
    with page.expect_download() as dl:
        page.locator('[data-action="export-png"]').click()
    assert Path(dl.value.path()).read_bytes()[:4] == b"\x89PNG"


def test_without_offscreen_canvases_the_page_draws_them_itself(browser: Any, server: str, console: Console) -> None:
    with open_page(browser, server, console) as page:
        page.add_init_script("delete HTMLCanvasElement.prototype.transferControlToOffscreen")
        open_preset(page, "circle")
        train_then_pause(page, handed=False)
        assert page.evaluate(HANDED) == [False, False]
        edges_match_signs(page)
        maps_match_server(page)
    assert not console.errors, "\n".join(console.errors)


def test_the_hand_over_counts_slow_draws_rather_than_averaging_them(page: Any) -> None:
    open_preset(page, "circle")
    runs = {
        "fast": [0.3] * 12,
        "a loaded fast machine: a few draws descheduled": [0.3] * 9 + [8.0] * 3,
        "a set of new maps, then fast": [6.0, 5.0, 4.0] + [0.4] * 9,
        "slow": [1.5] * 12,
        "slow, with a few fast draws": [0.3] * 3 + [1.2] * 9,
        "too few draws yet": [5.0] * 11,
    }
    got = dict(zip(runs, page.evaluate(SLOW_MACHINE, list(runs.values()))))
    assert got == {k: k.startswith("slow") for k in runs}


def test_a_fast_machine_keeps_its_canvases_through_a_few_slow_draws(page: Any) -> None:
    """Bursts of a CPU 20x slower, a few draws long, as a loaded machine descheduling the page
    now and then: the page keeps drawing its canvases itself (an average of its draws' times
    would have handed them over)."""
    open_preset(page, "circle")
    cdp = page.context.new_cdp_session(page)
    page.locator('[data-action="train"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.step > 50")
    for _ in range(4):
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 20})
        page.wait_for_timeout(400)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
        page.wait_for_timeout(1500)
    assert page.evaluate("() => window.deltaflow.store.server.playing") == "train"
    assert page.evaluate(HANDED) == [False, False]
    page.keyboard.press("Space")
    page.wait_for_function("() => window.deltaflow.store.server.playing === null")
