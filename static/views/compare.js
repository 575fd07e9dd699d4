// A/B comparison: start run b from a step with one change, then both loss curves overlaid
// (the first step beyond the tolerance and the widest gap marked), both decision boundaries,
// the weight that differs most, and keeping either run.

import { attr, el, fitCanvas, fmt, lut } from "../util.js";

const PAD = { l: 44, r: 10, t: 8, b: 20 };
const H = 130;
const COLORS = { a: "#222", b: "#d55e00", first: "#0072b2", widest: "#cc79a7" };
const CLASS_COLORS = [
  [230, 97, 1],
  [33, 102, 172],
  [0, 158, 115],
  [204, 121, 167],
  [240, 228, 66],
  [86, 180, 233],
];

// what each kind of change asks for, and how it goes into the command
const CHANGES = {
  learning_rate: { label: "learning rate", value: (v) => +v },
  optimizer: { label: "optimizer", value: (v) => ({ type: v }) },
  batch_size: { label: "batch size", value: (v) => Math.round(+v) },
  regularization: { label: "L2 rate", value: (v) => ({ type: "l2", rate: +v }) },
  seed: { label: "init seed", value: (v) => Math.round(+v) },
  weight: { label: "selected weight", value: (v, s) => ({ layer: s.l, to: s.j, from: s.i, value: +v }) },
};

function decode(m) {
  const bin = atob(m.data);
  const data = new Uint8Array(bin.length);
  for (let k = 0; k < bin.length; k++) data[k] = bin.charCodeAt(k);
  return { res: m.res, lo: m.lo, hi: m.hi, data };
}

// Paints output maps (one per output unit) onto `canvas` at size S: a diverging scale for one
// output (centred between the two labels when binary), the argmax class for several.
function paint(canvas, outs, S, task, labels) {
  const ctx = fitCanvas(canvas, S, S);
  ctx.fillStyle = "#fafafa";
  ctx.fillRect(0, 0, S, S);
  if (!outs.length) return;
  const res = outs[0].res;
  const off = document.createElement("canvas");
  off.width = off.height = res;
  const octx = off.getContext("2d");
  const img = octx.createImageData(res, res);
  const px = new Uint32Array(img.data.buffer);
  if (outs.length === 1) {
    const m = outs[0];
    const [lo, hi] = labels;
    const buf =
      task === "binary" ? lut(m.lo, m.hi, (lo + hi) / 2, (hi - lo) / 2 || 1) : lut(m.lo, m.hi, 0, Math.max(Math.abs(m.lo), Math.abs(m.hi), 1e-9));
    for (let k = 0; k < res * res; k++) px[k] = buf[m.data[k]];
  } else {
    for (let k = 0; k < res * res; k++) {
      let best = 0;
      let bv = -Infinity;
      outs.forEach((m, u) => {
        const v = m.lo + ((m.hi - m.lo) * m.data[k]) / 255;
        if (v > bv) [bv, best] = [v, u];
      });
      const [r, g, b] = CLASS_COLORS[best % CLASS_COLORS.length];
      px[k] = (255 << 24) | (b << 16) | (g << 8) | r;
    }
  }
  octx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, S, S);
}

export function createCompare(root, store, send, note) {
  const form = root.querySelector("[data-branch-form]");
  const kind = form.querySelector("[data-branch-kind]");
  const value = form.querySelector("[data-branch-value]");
  const from = form.querySelector("[data-branch-from]");
  const tol = form.querySelector("[data-branch-tolerance]");
  const panel = root.querySelector("[data-compare]");
  const summary = panel.querySelector("[data-compare-summary]");
  const chart = el("canvas", { class: "chart", role: "img", "aria-label": "Loss of run a and run b over the steps" });
  panel.querySelector("[data-compare-chart]").appendChild(chart);
  const mapA = panel.querySelector("[data-compare-map-a]");
  const mapB = panel.querySelector("[data-compare-map-b]");
  const boundaries = panel.querySelector("[data-compare-maps]");
  let W = 0;

  new ResizeObserver(([e]) => {
    W = Math.floor(e.contentRect.width);
    store.touch("branch");
  }).observe(root);

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const k = kind.value;
    const s = store.selection;
    if (k === "weight" && s?.kind !== "weight") return note("Select a weight in the network first, then branch on its value.");
    const change = { [k]: CHANGES[k].value(value.value.trim(), s) };
    const step = from.value === "" ? store.server?.step ?? 0 : Math.round(+from.value);
    send({ type: "branch", from_step: step, change, tolerance: +tol.value || 1e-3 });
  });
  root.querySelectorAll("[data-branch-keep]").forEach((b) =>
    b.addEventListener("click", () => send({ type: "branch_keep", branch: b.dataset.branchKeep })),
  );

  function drawChart(br) {
    const ctx = fitCanvas(chart, W, H);
    ctx.clearRect(0, 0, W, H);
    ctx.font = "11px system-ui, sans-serif";
    const rows = br.curve.filter((r) => r[0] !== null);
    if (!rows.length) return;
    const x0 = rows[0][0];
    const x1 = Math.max(x0 + 1, rows[rows.length - 1][0]);
    let hi = 1e-12;
    for (const r of rows) for (const v of [r[1], r[2]]) if (v !== null && Number.isFinite(v)) hi = Math.max(hi, v);
    const pw = W - PAD.l - PAD.r;
    const ph = H - PAD.t - PAD.b;
    const X = (s) => PAD.l + ((s - x0) / (x1 - x0)) * pw;
    const Y = (v) => PAD.t + ph - (v / hi) * ph;
    ctx.fillStyle = "#555";
    ctx.textAlign = "right";
    ctx.fillText(fmt(hi, 2), PAD.l - 4, PAD.t + 8);
    ctx.fillText("0", PAD.l - 4, PAD.t + ph);
    ctx.textAlign = "left";
    ctx.fillText(`step ${x0}`, PAD.l, H - 5);
    ctx.textAlign = "right";
    ctx.fillText(`${x1}`, W - PAD.r, H - 5);
    const mark = (step, color) => {
      if (step === null || step === undefined) return;
      ctx.strokeStyle = color;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(X(step), PAD.t);
      ctx.lineTo(X(step), PAD.t + ph);
      ctx.stroke();
      ctx.setLineDash([]);
    };
    mark(br.first_difference, COLORS.first);
    mark(br.widest, COLORS.widest);
    for (const [col, color] of [
      [1, COLORS.a],
      [2, COLORS.b],
    ]) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.6;
      ctx.beginPath();
      let pen = false;
      for (const r of rows) {
        if (r[col] === null) {
          pen = false;
          continue;
        }
        if (pen) ctx.lineTo(X(r[0]), Y(r[col]));
        else ctx.moveTo(X(r[0]), Y(r[col]));
        pen = true;
      }
      ctx.stroke();
    }
  }

  function drawMaps(br) {
    const L = store.layers.length - 1;
    const outsA = [];
    for (let j = 0; j < (store.layers[L] || 0); j++) {
      const m = store.maps.byKey.get(`${L}:${j}`);
      if (m) outsA.push(m);
    }
    boundaries.hidden = !br.maps || !outsA.length;
    if (boundaries.hidden) return;
    const S = Math.max(80, Math.min(160, Math.floor((W - 16) / 2)));
    const task = store.server?.task;
    // binary labels: the scale is centred halfway between them (0 and 1, or -1 and 1)
    const ys = store.dataset?.train.y.map((r) => r[0]) ?? [0, 1];
    const labels = [Math.min(...ys), Math.max(...ys)];
    paint(mapA, outsA, S, task, labels);
    paint(mapB, br.maps.map(decode), S, task, labels);
  }

  function draw() {
    const br = store.branch;
    panel.hidden = !br;
    if (!from.matches(":focus") && store.server) attr(from, "placeholder", store.server.step);
    if (!br || !W) return false;
    const last = br.curve[br.curve.length - 1];
    const what = Object.entries(br.change)
      .map(([k, v]) => `${CHANGES[k]?.label ?? k} → ${typeof v === "object" ? JSON.stringify(v) : v}`)
      .join(", ");
    const w = br.weight;
    const lines = [
      `Run b: from step ${br.from_step}, ${what}; at step ${br.step}.`,
      last ? `Loss a ${fmt(last[1])} · b ${fmt(last[2])} · ‖θa − θb‖ ${fmt(last[3])}` : "",
      br.first_difference === null
        ? `Losses within ${fmt(br.tolerance)} so far.`
        : `First differ by more than ${fmt(br.tolerance)} at step ${br.first_difference}.`,
      br.widest === null ? "" : `Weights farthest apart at step ${br.widest}.`,
      w ? `Most different weight now: w[${w.layer}][${w.to}][${w.from}], a ${fmt(w.a)} · b ${fmt(w.b)}.` : "",
      br.paused_reason || "",
    ].filter(Boolean);
    const text = lines.join("\n");
    if (summary.textContent !== text) summary.textContent = text;
    drawChart(br);
    drawMaps(br);
    return false;
  }

  return { topics: ["all", "branch", "maps"], draw, every: 250, watch: root };
}
