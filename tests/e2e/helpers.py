"""What the browser tests share: opening a preset and reading the page's store."""

from typing import Any


def fmt(v: float, digits: int = 4) -> str:
    """The page's number format: significant digits and a true minus sign."""
    return f"{v:.{digits}g}".replace("-", "\u2212")


def open_preset(page: Any, name: str, query: str = "") -> None:
    page.goto(f"/?preset={name}{query}")
    page.wait_for_function(
        """name => {
          const s = window.deltaflow?.store;
          if (!s?.server || s.server.scenario.name !== name || s.conn.status !== "open" || s.dirty.size) return false;
          const units = s.layers.reduce((a, b) => a + b, 0);
          return document.querySelectorAll("[data-net] [data-neuron]").length === units;
        }""",
        arg=name,
    )


def wait_phase(page: Any, phase: str, layer: int | None = None) -> None:
    """Until the page has shown `phase` (of `layer`) and its animation has settled."""
    page.wait_for_function(
        """([phase, layer]) => {
          const s = window.deltaflow.store;
          return document.querySelector('[data-phase]').textContent === phase
            && (layer === null || s.shown?.layer === layer)
            && document.querySelector('[data-net]').dataset.animating === 'false';
        }""",
        arg=[phase, layer],
    )


# true once the element's box has been the same for FRAMES animation frames in a row
STILL = """([sel, frames]) => {
  const r = document.querySelector(sel)?.getBoundingClientRect();
  if (!r) return false;
  const key = `${sel}@${r.x},${r.y},${r.width},${r.height}`;
  const w = window;
  w.__still = w.__still?.key === key ? { key, n: w.__still.n + 1 } : { key, n: 0 };
  return w.__still.n >= frames;
}"""


def click_net(page: Any, selector: str, hover: bool = False) -> None:
    """Clicks (or hovers) a part of the network drawing once the page's layout has stopped moving.

    force: a level edge's hit line has a zero-height box, which Playwright never calls visible.
    Force also skips Playwright's wait for a still box, and a view that loads late moves the
    drawing, so the click could land on a neighbour; hence the wait here.
    """
    page.wait_for_function(STILL, arg=[selector, 6], polling="raf")
    loc = page.locator(selector).first
    loc.hover(force=True) if hover else loc.click(force=True)


# the RGBA pixels of the network's canvas `sel` at CSS points [[x, y], ...], read from its
# picture (canvas.snapshot: the worker drawing it sends one), as the exports read it
CANVAS_PIXELS = """async ([sel, points]) => {
  const c = document.querySelector(sel);
  const img = new Image();
  img.src = await c.snapshot();
  await img.decode();
  const copy = Object.assign(document.createElement('canvas'), { width: img.width, height: img.height });
  const ctx = copy.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = img.width / c.getBoundingClientRect().width;
  return points.map(([x, y]) => [...ctx.getImageData(Math.round(x * d), Math.round(y * d), 1, 1).data]); }"""


# the speed control moved as a person would (static/pace.js: 40 is 30 phases a second)
SET_SPEED = """(pos) => { const s = document.querySelector("[data-speed]");
  s.value = String(pos); s.dispatchEvent(new Event("input", { bubbles: true })); }"""
# after each draw of the explain panel while playing: its text, and from the last whole step (what
# that draw read) its number, the output layer's first weight's ∂C/∂w and new value, the highlighted
# example (from 1) and the batch's size
PANEL_DRAWS = """() => { window.__drawn = [];
  const body = document.querySelector("[data-explain-body]");
  const e = window.deltaflow.schedule.entries.find((e) => e.v.watch === document.querySelector("[data-explain]"));
  const draw = e.v.draw;
  e.v.draw = (...args) => {
    const out = draw(...args);
    const s = window.deltaflow.store, end = s.ended, L = s.layers.length - 1;
    if (end && s.server.playing) {
      const weight = [end.cur.step, end.cur.backward[L].grad_w[0][0], end.weights[L - 1][0][0]];
      window.__drawn.push([body.textContent, ...weight, s.sel(end.cur) + 1, end.cur.batch.x.length]);
    }
    return out; }; }"""
