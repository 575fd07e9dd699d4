// A strip per weight layer of ‖∂C/∂W‖ over time, on a log colour scale: vanishing gradients
// show as a dark band in the early layers, exploding ones as a bright band.

import { el, fitCanvas, fmt } from "../util.js";

const STOPS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];
const LO = -6;
const HI = 2;

function rampRGB(v) {
  if (!(v > 0)) return v === 0 ? STOPS[0] : [221, 0, 0];
  const t = Math.max(0, Math.min(1, (Math.log10(v) - LO) / (HI - LO))) * (STOPS.length - 1);
  const k = Math.min(STOPS.length - 2, Math.floor(t));
  const u = t - k;
  return STOPS[k].map((a, i) => Math.round(a + (STOPS[k + 1][i] - a) * u));
}

const ramp = (v) => `rgb(${rampRGB(v)})`;
// the key's 40 colours, once
const KEY = Array.from({ length: 40 }, (_, k) => ramp(10 ** (LO + ((HI - LO) * k) / 39)));
// each step's colours, packed RGBA, computed once: a draw copies them
const packed = new WeakMap();
function pixels(s) {
  let p = packed.get(s);
  if (!p) {
    p = Uint32Array.from(s.norms, (v) => {
      const [r, g, b] = rampRGB(v);
      return (255 << 24) | (b << 16) | (g << 8) | r;
    });
    packed.set(s, p);
  }
  return p;
}

export function createGradnorm(root, store) {
  const canvas = el("canvas", { class: "gradnorm", role: "img", "aria-label": "Gradient norm per layer over time" }, root);
  let W = 0;
  // one pixel per step and layer, scaled up in one copy per layer rather than a rectangle per cell
  const cells = document.createElement("canvas");
  const cctx = cells.getContext("2d");
  let img = null;
  new ResizeObserver(([e]) => {
    W = Math.floor(e.contentRect.width);
    store.touch("norms");
  }).observe(root);

  function draw() {
    const L = store.layers.length - 1;
    if (!W || L < 1) return false;
    // type readable from the back of a room in presenter mode; each row as tall as its label
    const fs = store.view.presenter ? 16 : 11;
    const rowH = fs + 4;
    const H = L * rowH + fs + 8;
    const ctx = fitCanvas(canvas, W, H);
    ctx.clearRect(0, 0, W, H);
    ctx.font = `${fs}px system-ui, sans-serif`;
    const left = 2.6 * fs;
    const right = 5.6 * fs;
    const pw = W - left - right;
    const data = store.norms.filter((s) => s.norms.length === L).slice(-pw);
    const cw = data.length ? Math.max(1, Math.min(8, pw / data.length)) : 1;
    const shown = data.slice(-Math.floor(pw / cw));
    const w = shown.length;
    if (w) {
      if (cells.width !== w || cells.height !== L) {
        cells.width = w;
        cells.height = L;
        img = cctx.createImageData(w, L);
      }
      const px = new Uint32Array(img.data.buffer);
      shown.forEach((s, k) => pixels(s).forEach((c, l) => (px[l * w + k] = c)));
      cctx.putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = false;
    }
    for (let l = 0; l < L; l++) {
      const y = l * rowH;
      ctx.fillStyle = "#555";
      ctx.textAlign = "right";
      ctx.fillText(`L${l + 1}`, left - 4, y + rowH - 3);
      if (shown.length) ctx.drawImage(cells, 0, l, shown.length, 1, left, y + 1, shown.length * cw, rowH - 2);
      const last = shown[shown.length - 1];
      ctx.textAlign = "left";
      ctx.fillStyle = "#333";
      if (last) ctx.fillText(fmt(last.norms[l], 3), W - right + 4, y + rowH - 3);
    }
    const y = L * rowH + 3;
    ctx.fillStyle = "#555";
    ctx.textAlign = "left";
    const key = "‖∂C/∂W‖  1e−6";
    ctx.fillText(key, left, y + fs);
    const kx = left + ctx.measureText(key).width + 6;
    for (let k = 0; k < 40; k++) {
      ctx.fillStyle = KEY[k];
      ctx.fillRect(kx + k * 2, y + 2, 2, fs - 1);
    }
    ctx.fillStyle = "#555";
    ctx.fillText("1e2", kx + 84, y + fs);
    return false;
  }
  // four times a second while playing: a strip that scrolls by a few pixels reads the same
  return { topics: ["all", "norms", "net", "view"], draw, every: 250, watch: root };
}
