// Loss curves (train and test) with accuracy on a second axis; hover reads the values.

import { el, fitCanvas, fmt, setText } from "../util.js";

const PAD = { l: 44, r: 34, t: 8, b: 20 };
const SERIES = [
  { col: 2, color: "#222", dash: [], axis: "loss" },
  { col: 3, color: "#222", dash: [5, 4], axis: "loss" },
  { col: 4, color: "#009e73", dash: [], axis: "acc" },
  { col: 5, color: "#009e73", dash: [5, 4], axis: "acc" },
];

export function createChart(root, store) {
  const canvas = el("canvas", { class: "chart", role: "img", "aria-label": "Loss and accuracy over the steps" }, root);
  const readout = el("div", { class: "readout", "data-chart-readout": "" }, root);
  let W = 0;
  const H = 130;
  let hoverX = null;

  new ResizeObserver(([e]) => {
    W = Math.floor(e.contentRect.width);
    store.touch("curve");
  }).observe(root);

  function draw() {
    if (!W) return false;
    const ctx = fitCanvas(canvas, W, H);
    ctx.clearRect(0, 0, W, H);
    const rows = store.curve.filter((r) => r[0] !== null);
    const D = store.view.digits || 4;
    const log = !!store.view.log;
    const pw = W - PAD.l - PAD.r;
    const ph = H - PAD.t - PAD.b;
    ctx.font = `${store.view.presenter ? 16 : 11}px system-ui, sans-serif`; // presenter: readable across a room
    ctx.fillStyle = "#555";
    if (!rows.length) {
      ctx.fillText("no losses yet", PAD.l, PAD.t + 14);
      return false;
    }
    const x0 = rows[0][0];
    const x1 = Math.max(x0 + 1, rows[rows.length - 1][0]);
    const ty = (v) => (log ? Math.log10(Math.max(v, 1e-12)) : v);
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of rows)
      for (const c of [2, 3])
        if (r[c] !== null && Number.isFinite(r[c])) {
          lo = Math.min(lo, ty(r[c]));
          hi = Math.max(hi, ty(r[c]));
        }
    if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
    if (!log) lo = 0;
    if (hi - lo < 1e-12) hi = lo + (log ? 1 : Math.abs(lo) || 1);
    const X = (s) => PAD.l + ((s - x0) / (x1 - x0)) * pw;
    const Y = (v) => PAD.t + ph - ((ty(v) - lo) / (hi - lo)) * ph;
    const YA = (a) => PAD.t + ph - a * ph;

    ctx.strokeStyle = "#ddd";
    ctx.lineWidth = 1;
    ctx.setLineDash([]);
    for (let k = 0; k <= 3; k++) {
      const v = lo + ((hi - lo) * k) / 3;
      const y = PAD.t + ph - (ph * k) / 3;
      ctx.beginPath();
      ctx.moveTo(PAD.l, y);
      ctx.lineTo(W - PAD.r, y);
      ctx.stroke();
      ctx.textAlign = "right";
      ctx.fillText(fmt(log ? 10 ** v : v, 2), PAD.l - 4, y + 4);
    }
    const hasAcc = rows.some((r) => r[4] !== null);
    if (hasAcc) {
      ctx.textAlign = "left";
      ctx.fillStyle = "#009e73";
      ctx.fillText("100%", W - PAD.r + 3, YA(1) + 8);
      ctx.fillText("0%", W - PAD.r + 3, YA(0));
      ctx.fillStyle = "#555";
    }
    ctx.textAlign = "left";
    ctx.fillText(`step ${x0}`, PAD.l, H - 5);
    ctx.textAlign = "right";
    ctx.fillText(`${x1}`, W - PAD.r, H - 5);

    for (const s of SERIES) {
      ctx.strokeStyle = s.color;
      ctx.setLineDash(s.dash);
      ctx.lineWidth = 1.6;
      ctx.beginPath();
      let pen = false;
      for (const r of rows) {
        const v = r[s.col];
        if (v === null || !Number.isFinite(v)) {
          pen = false;
          continue;
        }
        const y = s.axis === "acc" ? YA(v) : Y(v);
        if (pen) ctx.lineTo(X(r[0]), y);
        else ctx.moveTo(X(r[0]), y);
        pen = true;
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);

    let row = rows[rows.length - 1];
    if (hoverX !== null) {
      const s = x0 + ((hoverX - PAD.l) / pw) * (x1 - x0);
      row = rows.reduce((b, r) => (Math.abs(r[0] - s) < Math.abs(b[0] - s) ? r : b), rows[0]);
      ctx.strokeStyle = "#888";
      ctx.beginPath();
      ctx.moveTo(X(row[0]), PAD.t);
      ctx.lineTo(X(row[0]), PAD.t + ph);
      ctx.stroke();
    }
    const pct = (v) => (v === null ? "—" : `${(100 * v).toFixed(1)}%`);
    let s = `step ${row[0]} · epoch ${row[1]} · train ${fmt(row[2], D)}`;
    if (row[3] !== null) s += ` · test ${fmt(row[3], D)}`;
    if (hasAcc) s += ` · acc ${pct(row[4])}` + (row[5] !== null ? ` / ${pct(row[5])}` : "");
    setText(readout, s);
    return false;
  }

  canvas.addEventListener("pointermove", (e) => {
    hoverX = e.offsetX;
    store.touch("curve");
  });
  canvas.addEventListener("pointerleave", () => {
    hoverX = null;
    store.touch("curve");
  });

  // four times a second while playing: a curve of thousands of steps moves no faster to the eye
  return { topics: ["all", "curve", "view"], draw, every: 250, watch: root };
}
