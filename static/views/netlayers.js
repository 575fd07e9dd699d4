// The network view's moving parts on two canvases, not SVG elements: under the SVG, the band,
// edges, gradient overlays and pulses; over it, the neurons' maps. The SVG keeps the text, the
// neurons and each edge's hit line (data-weight, data-value), for clicks, keys and labels.

import { el } from "../util.js";

// the band's fill for each phase (the page's palette)
const BAND = { backward: "#efe3f6", update: "#dff1e7", output_error: "#fde3d6" };
const BAND_DEFAULT = "#fff3c4";
const PULSE = { forward: "#111", backward: "#7b3294" };

export function createNetLayers(root, svg) {
  const under = el("canvas", { class: "net-edges", "aria-hidden": "true" });
  root.insertBefore(under, svg);
  const over = el("canvas", { class: "net-maps", "aria-hidden": "true" }, root);
  const ctx = under.getContext("2d");
  const mctx = over.getContext("2d");
  let W = 0;
  let H = 0;

  // each canvas at the device's pixels, drawn in CSS pixels
  function resize(w, h) {
    W = w;
    H = h;
    const d = window.devicePixelRatio || 1;
    for (const [c, x] of [
      [under, ctx],
      [over, mctx],
    ]) {
      c.width = Math.max(1, Math.round(w * d));
      c.height = Math.max(1, Math.round(h * d));
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
      x.setTransform(d, 0, 0, d, 0, 0);
    }
  }

  function clear() {
    ctx.clearRect(0, 0, W, H);
  }

  function band(x, y, w, h, phase) {
    ctx.fillStyle = BAND[phase] || BAND_DEFAULT;
    ctx.beginPath();
    ctx.roundRect(x, y, w, h, 8);
    ctx.fill();
  }

  // a line p = {x1, y1, x2, y2}; dash: [on, off] or null; cap: "round" or "butt"
  function line(p, width, colour, alpha, dash, cap) {
    ctx.globalAlpha = alpha;
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.lineCap = cap;
    ctx.setLineDash(dash || []);
    ctx.beginPath();
    ctx.moveTo(p.x1, p.y1);
    ctx.lineTo(p.x2, p.y2);
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  // the part of p from a to b (fractions of its length): a pulse travelling along an edge
  function pulse(p, a, b, phase) {
    const lo = Math.max(0, a);
    const hi = Math.min(1, b);
    if (hi <= lo) return;
    const at = (t) => ({ x: p.x1 + (p.x2 - p.x1) * t, y: p.y1 + (p.y2 - p.y1) * t });
    const [s, e] = [at(lo), at(hi)];
    line({ x1: s.x, y1: s.y, x2: e.x, y2: e.y }, 6, PULSE[phase] || PULSE.forward, 1, null, "round");
  }

  // every neuron's map, each a small canvas of its own pixels (cut to its circle), at (x, y)
  function maps(list) {
    mctx.clearRect(0, 0, W, H);
    for (const { c, x, y, m } of list) if (c.width > 1) mctx.drawImage(c, x - m / 2, y - m / 2, m, m);
  }

  return { resize, clear, band, line, pulse, maps, under, over };
}
