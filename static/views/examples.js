// For inputs that are not a plane (the encoder, a 1-D curve) and for small sets (the gates): a
// table of examples with output against target, and for one input a plot of the fitted curve.

import { RANGE } from "../math.js";
import { EXAMPLE_ROWS as ROWS, showsExamples } from "../store.js";
import { divColor, el, fitCanvas, fmt } from "../util.js";

export function createExamples(root, store) {
  const plot = el("canvas", { class: "fit", role: "img", "aria-label": "Targets and the network's curve" }, root);
  const note = el("p", { class: "hint" }, root, "");
  const table = el("table", { class: "examples" }, root);
  let W = 0;
  new ResizeObserver(([e]) => {
    W = Math.floor(e.contentRect.width);
    store.touch("data");
  }).observe(root);

  function vec(td, v, scale) {
    td.replaceChildren();
    if (v.length <= 3) {
      td.textContent = v.map((x) => fmt(x, 3)).join("  ");
      return;
    }
    for (const x of v) {
      const s = el("span", { class: "cell", title: fmt(x, 6) }, td);
      s.style.background = divColor(x / scale);
    }
  }

  function draw() {
    const ds = store.dataset;
    // non-plane inputs, and sets small enough to read whole (truth tables, the worked example)
    const on = showsExamples(ds);
    root.hidden = !on;
    if (!on || !store.weights.length || !store.outputs) return false;
    const { x, y } = ds.train;
    const acts = store.acts;
    const outScale = RANGE[acts[acts.length - 1]] ? 1 : Math.max(1e-9, ...y.flat().map(Math.abs));
    const outs = store.outputs.y; // the server's, for the first examples of the set
    const batch = new Set(store.cur?.batch?.indices || []);
    plot.hidden = x[0].length !== 1;
    if (!plot.hidden && W) drawPlot(x.slice(0, outs.length), y.slice(0, outs.length), outs);
    const rows = Math.min(ROWS, x.length, outs.length);
    if (table.rows.length !== rows + 1) {
      table.replaceChildren();
      const h = el("tr", {}, el("thead", {}, table));
      for (const t of ["#", "input x", "target t", "output ŷ"]) el("th", { scope: "col" }, h, t);
      const body = el("tbody", {}, table);
      for (let k = 0; k < rows; k++) {
        const tr = el("tr", {}, body);
        for (let c = 0; c < 4; c++) el("td", {}, tr);
      }
    }
    for (let k = 0; k < rows; k++) {
      const tr = table.rows[k + 1];
      tr.className = batch.has(k) ? "in-batch" : "";
      tr.cells[0].textContent = k + 1;
      vec(tr.cells[1], x[k], 1);
      vec(tr.cells[2], y[k], outScale);
      vec(tr.cells[3], outs[k], outScale);
    }
    note.textContent =
      `Outputs at step ${store.outputs.step}` + (x.length > rows ? `; the first ${rows} of ${x.length} examples.` : ".");
    return false;
  }

  function drawPlot(x, y, outs) {
    const H = 150;
    const ctx = fitCanvas(plot, W, H);
    ctx.clearRect(0, 0, W, H);
    const xs = x.map((r) => r[0]);
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    const vs = y.flat().concat(outs.flat());
    const vlo = Math.min(...vs);
    const vhi = Math.max(...vs);
    const X = (v) => 8 + ((v - lo) / (hi - lo || 1)) * (W - 16);
    const Y = (v) => H - 8 - ((v - vlo) / (vhi - vlo || 1)) * (H - 16);
    ctx.fillStyle = "rgba(33,102,172,.6)";
    xs.forEach((v, k) => ctx.fillRect(X(v) - 2, Y(y[k][0]) - 2, 4, 4));
    const order = xs.map((v, k) => [v, outs[k][0]]).sort((a, b) => a[0] - b[0]);
    ctx.strokeStyle = "rgb(230,97,1)";
    ctx.lineWidth = 2;
    ctx.beginPath();
    order.forEach(([v, o], k) => (k ? ctx.lineTo(X(v), Y(o)) : ctx.moveTo(X(v), Y(o))));
    ctx.stroke();
  }

  // its region, not itself: it hides itself when the data is a plane
  return { topics: ["all", "data", "outputs", "params", "phase"], draw, every: 100, watch: root.closest("section") || root };
}
