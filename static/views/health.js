// Training health per weight layer, from the `health` events: histograms of W, ∂C/∂W and the
// activations, dead and saturated unit counts, and ‖ΔW‖/‖W‖ over time on a log scale with its
// healthy band (1e-4 to 1e-2 around 1e-3) shaded. Clicking a row selects that layer.

import { el, fitCanvas, fmt } from "../util.js";

const LO = -7; // log10 range of the update-ratio strip
const HI = 1;
const HIST = [
  ["weights", "W", "#2166ac"],
  ["grads", "∂C/∂W", "#e66101"],
  ["activations", "a", "#1b7837"],
];

export function createHealth(root, store, actions) {
  const list = el("div", { class: "health-rows" }, root);
  const rows = [];
  let W = 0;
  new ResizeObserver(([e]) => {
    W = Math.floor(e.contentRect.width);
    store.touch("health");
  }).observe(root);

  function row(l) {
    const b = el("button", { type: "button", class: "health-row", "data-health-layer": l }, list);
    b.addEventListener("click", () => actions.select({ kind: "layer", l, j: 0 }));
    const label = el("span", { class: "health-label" }, b);
    const canvas = el("canvas", { role: "img" }, b);
    return { b, label, canvas };
  }

  function hist(ctx, h, x, w, hgt, colour) {
    const n = h.counts.length;
    const top = Math.max(1, ...h.counts);
    ctx.fillStyle = colour;
    h.counts.forEach((c, k) => {
      const bh = (c / top) * (hgt - 10);
      ctx.fillRect(x + (k * w) / n, hgt - 10 - bh, Math.max(1, w / n - 0.5), bh);
    });
    ctx.fillStyle = "#666";
    ctx.fillText(fmt(h.lo, 2), x, hgt);
    ctx.textAlign = "right";
    ctx.fillText(fmt(h.hi, 2), x + w, hgt);
    ctx.textAlign = "left";
  }

  function ratioStrip(ctx, l, x, w, hgt) {
    const y = (v) => hgt - 10 - ((Math.log10(v) - LO) / (HI - LO)) * (hgt - 12);
    ctx.fillStyle = "rgba(27,120,55,.15)"; // the healthy band, 1e-4 to 1e-2
    ctx.fillRect(x, y(1e-2), w, y(1e-4) - y(1e-2));
    ctx.strokeStyle = "rgba(27,120,55,.6)";
    ctx.beginPath();
    ctx.moveTo(x, y(1e-3));
    ctx.lineTo(x + w, y(1e-3));
    ctx.stroke();
    const pts = store.health.slice(-Math.floor(w / 2));
    ctx.strokeStyle = "#333";
    ctx.beginPath();
    pts.forEach((e, k) => {
      const v = Math.min(10 ** HI, Math.max(10 ** LO, e.layers[l - 1]?.update_ratio || 10 ** LO));
      const px = x + (k * w) / Math.max(1, pts.length - 1);
      if (k) ctx.lineTo(px, y(v));
      else ctx.moveTo(px, y(v));
    });
    ctx.stroke();
    ctx.fillStyle = "#666";
    const last = store.health[store.health.length - 1]?.layers[l - 1]?.update_ratio;
    ctx.fillText(`‖ΔW‖/‖W‖ ${fmt(last, 2)}`, x, hgt);
  }

  function draw() {
    const L = store.layers.length - 1;
    while (rows.length < L) rows.push(row(rows.length + 1));
    rows.forEach((r, k) => (r.b.hidden = k >= L));
    const last = store.health[store.health.length - 1];
    if (!W || L < 1 || !last || last.layers.length !== L) return false;
    const sel = store.selection;
    const H = 46;
    const cw = W - 8;
    const part = (cw - 60) / 4;
    for (let l = 1; l <= L; l++) {
      const r = rows[l - 1];
      const h = last.layers[l - 1];
      r.b.setAttribute("aria-pressed", sel?.kind === "layer" && sel.l === l);
      r.b.setAttribute("aria-label", `Layer ${l}: ${h.dead} dead, ${h.saturated} saturated, update ratio ${fmt(h.update_ratio, 2)}`);
      const t = `L${l}\n${h.dead} dead\n${h.saturated} sat.`;
      if (r.label.textContent !== t) r.label.textContent = t;
      const ctx = fitCanvas(r.canvas, cw - 60, H);
      ctx.clearRect(0, 0, cw - 60, H);
      ctx.font = "9px system-ui, sans-serif";
      HIST.forEach(([key, name, colour], k) => {
        hist(ctx, h[key], k * part, part - 8, H, colour);
        ctx.fillStyle = "#333";
        ctx.fillText(name, k * part, 9);
      });
      ratioStrip(ctx, l, 3 * part, part - 2, H);
    }
    root.dataset.healthStep = last.step;
    return false;
  }
  return { topics: ["all", "health", "net", "select"], draw, every: 250 };
}
