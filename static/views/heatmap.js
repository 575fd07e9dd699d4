// The output map (decision boundary) under the training and test points, on one canvas.
// The batch of the step is ringed; a click adds a point of the picked class, shift-click the
// next class; right-click or Alt-click removes the training point under the pointer.

import { RANGE } from "../math.js";
import { el, fitCanvas, lut } from "../util.js";

// Okabe–Ito, readable with every common colour-vision deficiency
export const CLASS_COLORS = [
  [230, 97, 1],
  [33, 102, 172],
  [0, 158, 115],
  [204, 121, 167],
  [240, 228, 66],
  [86, 180, 233],
  [0, 0, 0],
  [120, 120, 120],
];
const css = ([r, g, b], a = 1) => `rgba(${r},${g},${b},${a})`;

// Labels of a dataset: the binary midpoint between its two target values, or argmax.
function labelling(y, task) {
  if (task === "regression") {
    let m = 1e-9;
    for (const r of y) m = Math.max(m, Math.abs(r[0]));
    return { kind: "value", scale: m, cls: null };
  }
  if (y[0]?.length > 1) return { kind: "class", cls: (r) => r.indexOf(Math.max(...r)) };
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of y) {
    lo = Math.min(lo, r[0]);
    hi = Math.max(hi, r[0]);
  }
  if (hi === lo) hi = lo + 1;
  const mid = (lo + hi) / 2;
  return { kind: "binary", lo, hi, mid, cls: (r) => (r[0] >= mid ? 0 : 1) };
}

export function createHeatmap(root, store, actions) {
  const canvas = el("canvas", { class: "heat", role: "img", "aria-label": "Decision boundary with the data" }, root);
  const off = document.createElement("canvas");
  off.width = off.height = 100;
  const octx = off.getContext("2d");
  let img = octx.createImageData(100, 100);
  const buf = new Uint32Array(256);
  let S = 0;
  // the data points change only with the data, the size or the test toggle: drawn once, then copied
  const dots = document.createElement("canvas");
  let dotsKey = null;
  let mapsKey = null;
  let shown = null; // what the canvas shows

  new ResizeObserver(([e]) => {
    S = Math.floor(Math.min(e.contentRect.width, document.documentElement.classList.contains("presenter") ? 420 : 280));
    store.touch("data");
  }).observe(root);

  const px = (ext, x) => [((x[0] - ext[0]) / (ext[1] - ext[0])) * S, ((ext[3] - x[1]) / (ext[3] - ext[2])) * S];

  function paintMaps(lab) {
    const L = store.layers.length - 1;
    const outs = [];
    for (let j = 0; j < store.layers[L]; j++) {
      const m = store.maps.byKey.get(`${L}:${j}`);
      if (m) outs.push(m);
    }
    if (!outs.length) return false;
    const res = outs[0].res;
    if (img.width !== res) {
      off.width = off.height = res;
      img = octx.createImageData(res, res);
    }
    const out = new Uint32Array(img.data.buffer);
    if (outs.length === 1) {
      const m = outs[0];
      const rg = RANGE[store.acts[L - 1]];
      if (lab.kind === "binary") lut(m.lo, m.hi, lab.mid, (lab.hi - lab.lo) / 2, buf);
      else lut(m.lo, m.hi, 0, rg ? 1 : Math.max(Math.abs(m.lo), Math.abs(m.hi), 1e-9), buf);
      for (let k = 0; k < m.data.length; k++) out[k] = buf[m.data[k]];
    } else {
      // argmax class, paler where the network is less sure
      const n = outs.length;
      const vals = outs.map((m) => {
        const v = new Float64Array(256);
        for (let q = 0; q < 256; q++) v[q] = m.lo + ((m.hi - m.lo) * q) / 255;
        return v;
      });
      const data = outs.map((m) => m.data);
      for (let k = 0; k < res * res; k++) {
        let best = 0;
        let bv = -Infinity;
        let second = -Infinity;
        for (let u = 0; u < n; u++) {
          const v = vals[u][data[u][k]];
          if (v > bv) {
            second = bv;
            bv = v;
            best = u;
          } else if (v > second) second = v;
        }
        const a = 0.25 + 0.6 * Math.min(1, Math.max(0, bv - second));
        const c = CLASS_COLORS[best % CLASS_COLORS.length];
        out[k] = (255 << 24) | (Math.round(255 + (c[2] - 255) * a) << 16) | (Math.round(255 + (c[1] - 255) * a) << 8) | Math.round(255 + (c[0] - 255) * a);
      }
    }
    octx.putImageData(img, 0, 0);
    return true;
  }

  function pointColor(lab, y) {
    if (lab.kind === "value") {
      const t = Math.max(-1, Math.min(1, y[0] / lab.scale));
      return t >= 0 ? css(CLASS_COLORS[0], 0.3 + 0.7 * t) : css(CLASS_COLORS[1], 0.3 - 0.7 * t);
    }
    return css(CLASS_COLORS[lab.cls(y) % CLASS_COLORS.length]);
  }

  const dotAt = (ctx, ext, x, r, fill, stroke, w = 1) => {
    const [a, b] = px(ext, x);
    ctx.beginPath();
    ctx.arc(a, b, r, 0, 2 * Math.PI);
    if (fill) {
      ctx.fillStyle = fill;
      ctx.fill();
    }
    if (stroke) {
      ctx.lineWidth = w;
      ctx.strokeStyle = stroke;
      ctx.stroke();
    }
  };

  function paintDots(ds, lab, r) {
    const dpr = window.devicePixelRatio || 1;
    const key = [ds, S, dpr, !!store.view.test, store.server.task];
    if (dotsKey && key.every((k, i) => k === dotsKey[i])) return;
    dotsKey = key;
    const ctx = fitCanvas(dots, S, S);
    ctx.clearRect(0, 0, S, S);
    const ext = ds.extent;
    if (store.view.test && ds.test) ds.test.x.forEach((x, k) => dotAt(ctx, ext, x, r, null, pointColor(lab, ds.test.y[k]), 1.5));
    ds.train.x.forEach((x, k) => dotAt(ctx, ext, x, r, pointColor(lab, ds.train.y[k]), "rgba(0,0,0,.55)", 0.6));
  }

  function draw() {
    const ds = store.dataset;
    const ext = ds?.extent;
    root.hidden = !ext;
    if (!ext || !S || !store.server) return false;
    const lab = labelling(ds.train.y, store.server.task);
    // the map image is rebuilt only for new maps (or a new labelling of them)
    const mk = [store.maps.seq, store.maps.list, ds, store.server.task];
    const fresh = !(mapsKey && mk.every((k, i) => k === mapsKey[i]));
    if (fresh) mapsKey = Object.assign(mk, { painted: paintMaps(lab) });
    const r = S > 300 ? 3.2 : 2.5;
    paintDots(ds, lab, r);
    const b = store.cur?.batch;
    const ex = store.sel();
    // nothing new to show (a frame without new maps): no draw
    const k = [mapsKey, dotsKey, b, ex];
    if (shown && k.every((v, i) => v === shown[i])) return false;
    shown = k;
    const ctx = fitCanvas(canvas, S, S);
    ctx.fillStyle = "#fafafa";
    ctx.fillRect(0, 0, S, S);
    if (mapsKey.painted) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(off, 0, 0, S, S);
    }
    ctx.drawImage(dots, 0, 0, S, S);
    if (b) {
      b.x.forEach((x) => dotAt(ctx, ext, x, r + 3, null, "#111", 1.5));
      dotAt(ctx, ext, b.x[ex], r + 7, null, "#111", 2.5);
    }
    return false;
  }

  // a click adds a point, a right-click or an Alt-click takes one out: ../points.js, loaded at the first
  const onPlane = (e) => {
    if (!store.dataset?.extent || (e.type === "click" && store.server?.task === "regression")) return;
    if (e.type === "contextmenu" || e.altKey) e.preventDefault();
    import("../points.js").then((m) => m.onPlane(e, canvas, store, actions));
  };
  canvas.addEventListener("contextmenu", onPlane);
  canvas.addEventListener("click", onPlane);

  // ten times a second while playing; watched through its region, as it hides itself off a plane
  return { topics: ["all", "data", "maps", "phase", "view"], draw, every: 100, watch: root.closest("section") || root };
}
