// The computation graph of one unit (or of the whole small network) for one example, from the
// `graph` event, drawn as a layered SVG: sources left, the loss E right. Stepping backward
// lights the nodes in reverse order from E, each showing its grad as the sum of
// local derivative × grad passed back along its out-edges (reverse-mode differentiation).

import { el, fmt, svgEl, text } from "../util.js";

const COLOURS = { weight: "#2166ac", bias: "#2166ac", input: "#777", activation: "#777", mul: "#999", sum: "#999", add: "#999", loss: "#b2182b" };

// Columns: non-sources by their longest path from a source; a source just left of its first target.
function columns(g) {
  const ins = new Map(g.nodes.map((n) => [n.id, []]));
  const outs = new Map(g.nodes.map((n) => [n.id, []]));
  for (const e of g.edges) {
    ins.get(e.to).push(e);
    outs.get(e.from).push(e);
  }
  const depth = new Map();
  const d = (id) => {
    if (!depth.has(id)) depth.set(id, ins.get(id).length ? 1 + Math.max(...ins.get(id).map((e) => d(e.from))) : 0);
    return depth.get(id);
  };
  g.nodes.forEach((n) => d(n.id));
  for (const n of g.nodes) {
    const o = outs.get(n.id);
    if (!ins.get(n.id).length && o.length) depth.set(n.id, Math.min(...o.map((e) => depth.get(e.to))) - 1);
  }
  return { depth, outs };
}

export function createGraph(root, store, actions) {
  const bar = el("div", { class: "bar" }, root);
  const ask = el("button", { type: "button", "data-graph-request": "" }, bar, "Graph of the selected unit");
  const exLabel = el("label", {}, bar, "example ");
  const ex = el("input", { type: "number", min: 0, value: 0, size: 4, "data-graph-example": "" }, exLabel);
  const back = el("button", { type: "button", "data-graph-back": "" }, bar, "◀ Backward one node");
  const again = el("button", { type: "button", "data-graph-restart": "" }, bar, "Restart");
  const detail = el("p", { class: "graph-detail", "data-graph-detail": "", "aria-live": "polite" }, root);
  const svg = svgEl("svg", { class: "graph", role: "img", "aria-label": "Computation graph" }, root);
  let drawn = null; // the graph event drawn
  let lit = 0; // how many nodes, in reverse order, are lit
  let order = [];
  let shapes = new Map();
  let info = null;

  ask.addEventListener("click", () => {
    const s = store.selection;
    const one = s && (s.kind === "neuron" || s.kind === "bias") && s.l >= 1;
    const cmd = { type: "graph", example: Math.max(0, Math.floor(+ex.value || 0)) };
    actions.send(one ? { ...cmd, layer: s.l, unit: s.j } : cmd);
  });
  back.addEventListener("click", () => {
    lit = Math.min(order.length, lit + 1);
    store.touch("graph");
  });
  again.addEventListener("click", () => {
    lit = 0;
    store.touch("graph");
  });

  function layout(g) {
    svg.replaceChildren();
    shapes = new Map();
    info = columns(g);
    const cols = new Map();
    for (const n of g.nodes) {
      const c = info.depth.get(n.id);
      if (!cols.has(c)) cols.set(c, []);
      cols.get(c).push(n);
    }
    const keys = [...cols.keys()].sort((a, b) => a - b);
    const rows = Math.max(...[...cols.values()].map((c) => c.length));
    const W = Math.max(320, keys.length * 78);
    const H = Math.max(120, rows * 30 + 20);
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("width", W); // drawn at its own size: the view scrolls rather than shrinks it
    svg.setAttribute("height", H);
    const pos = new Map();
    keys.forEach((k, ci) => {
      const col = cols.get(k);
      col.forEach((n, ri) => pos.set(n.id, [30 + (ci * (W - 60)) / Math.max(1, keys.length - 1), ((ri + 1) * H) / (col.length + 1)]));
    });
    const edges = svgEl("g", { class: "graph-edges" }, svg);
    for (const e of g.edges) {
      const [x1, y1] = pos.get(e.from);
      const [x2, y2] = pos.get(e.to);
      svgEl("line", { x1, y1, x2, y2, "data-edge": `${e.from}>${e.to}` }, edges);
    }
    for (const n of g.nodes) {
      const [x, y] = pos.get(n.id);
      const grp = svgEl("g", { class: "graph-node", "data-node": n.id, "data-op": n.op, transform: `translate(${x},${y})` }, svg);
      svgEl("circle", { r: 9, fill: COLOURS[n.op] || "#1b7837" }, grp);
      const t = svgEl("text", { y: -12, "text-anchor": "middle" }, grp);
      t.textContent = `${n.label} = ${fmt(n.value, 3)}`;
      const gr = svgEl("text", { y: 20, "text-anchor": "middle", class: "graph-grad" }, grp);
      gr.textContent = `∂E = ${fmt(n.grad, 3)}`;
      const title = svgEl("title", {}, grp);
      title.textContent = `${n.label} (${n.op}): value ${n.value}, ∂E/∂ = ${n.grad}`;
      shapes.set(n.id, grp);
    }
    // reverse order: E first, then by column right to left
    order = g.nodes.slice().sort((a, b) => info.depth.get(b.id) - info.depth.get(a.id));
  }

  // During a step's backward phase, light every node of the layers already passed back.
  function phaseLit() {
    const sh = store.shown;
    if (!drawn || !sh || drawn.step !== store.server?.step) return 0;
    const L = store.layers.length - 1;
    const from = sh.event === "output_error" ? L + 1 : sh.event === "backward" ? sh.layer : sh.event === "update" ? 0 : null;
    if (from === null) return 0;
    return order.filter((n) => n.layer >= from || n.op === "loss").length;
  }

  function draw() {
    const g = store.graph;
    if (!g) {
      text(detail, "Select a unit in the network, then ask for its graph (no selection: the whole network, up to 30 units).");
      return false;
    }
    if (g !== drawn) {
      drawn = g;
      lit = 0;
      layout(g);
    }
    const n = Math.max(lit, phaseLit());
    const on = new Set(order.slice(0, n).map((x) => x.id));
    for (const [id, grp] of shapes) grp.classList.toggle("lit", on.has(id));
    svg.querySelectorAll("[data-edge]").forEach((e) => {
      const [a, b] = e.dataset.edge.split(">");
      e.classList.toggle("lit", on.has(a) && on.has(b));
    });
    root.dataset.lit = n;
    const cur = order[n - 1];
    if (!cur) text(detail, `Step ${g.step}, example ${g.example}: ${g.nodes.length} nodes. Backward starts at E, whose ∂E/∂E = 1.`);
    else if (cur.op === "loss") text(detail, `E = ${fmt(cur.value, 4)}; ∂E/∂E = 1.`);
    else {
      const byId = new Map(g.nodes.map((x) => [x.id, x]));
      const terms = info.outs.get(cur.id).map((e) => `${fmt(e.local, 3)} × ${fmt(byId.get(e.to).grad, 3)}`);
      const more = g.layer !== null && (cur.op === "input" || cur.op === "activation") ? " + the paths through the layer's other units" : "";
      text(detail, `∂E/∂${cur.label} = ${terms.join(" + ") || "—"}${more} = ${fmt(cur.grad, 4)}  (local derivative × grad passed back)`);
    }
    return false;
  }
  // the phase lights its nodes: a person sees 10 changes a second, and only when it is on screen
  return { topics: ["all", "graph", "phase"], draw, every: 100, watch: root };
}
