// The network: neurons filled by activation, edges sized by weight, pulses, delta rings and each
// neuron's map. Neurons, text and hit lines are SVG built once per shape (then attributes
// change); edges, pulses, band and maps are on canvases (./netlayers.js).

import { RANGE } from "../math.js";
import { attr, clamp, divColor, el, fmt, lerp, show, signColor, svgEl, text } from "../util.js";
import { declutter, edgeLabels, fitTitles } from "./netlabels.js";
import { createNetLayers } from "./netlayers.js";

const NO_LINES = { clear() {}, band() {}, line() {}, pulse() {} };
const LABEL_EDGES = 12; // edge labels only where they stay readable
const ease = (t) => (t < 0.5 ? 2 * t * t : 1 - 2 * (1 - t) * (1 - t));

export function createNetwork(root, store, actions) {
  const svg = svgEl("svg", { class: "net-svg", role: "group", "aria-label": "The network" }, root);
  const layers = createNetLayers(root, svg, () => {
    repaint();
    store.touch("net");
  });
  const tip = el("div", { class: "tip", role: "tooltip", id: "net-tip" }, root);
  tip.hidden = true;
  let W = 0;
  let H = 0;
  let g = null; // the built elements of the current shape
  let hover = null;
  let inputScale = 1;

  new ResizeObserver(([e]) => {
    W = Math.round(e.contentRect.width);
    H = Math.round(e.contentRect.height);
    store.touch("net");
  }).observe(root);

  function build() {
    const n = store.layers;
    const L = n.length - 1;
    const { frozen = [], bias_free: biasFree = [] } = store.server?.scenario ?? {};
    svg.replaceChildren();
    layers.resize(W, H);
    attr(svg, "viewBox", `0 0 ${W} ${H}`);
    attr(svg, "width", W);
    attr(svg, "height", H);
    const padL = 56;
    // room on the right for the outputs' value, target and δ
    const fs = parseFloat(getComputedStyle(svg).fontSize) || 12;
    const padR = Math.round(Math.min(W * 0.4, 20 + fs * 0.62 * ((store.view.digits || 4) + 7)));
    const top = 46;
    const avail = H - top - 34;
    // each layer spreads over the height; the radius comes from the densest layer
    const gaps = n.map((k) => Math.min(120, avail / k));
    const gap = Math.min(...gaps);
    const r = clamp(gap * 0.34, 5, 30);
    const X = (l) => padL + (l * (W - padL - padR)) / Math.max(1, L);
    const Y = (l, j) => top + avail / 2 + (j - (n[l] - 1) / 2) * gaps[l];
    const titles = n.map((_, l) =>
      svgEl("text", { class: "layer-title", x: X(l), y: 20, "text-anchor": "middle" }, svg),
    );
    const gEdges = svgEl("g", { class: "edges" }, svg);
    const gLabels = svgEl("g", { class: "edge-labels" }, svg);
    const gNeurons = svgEl("g", { class: "neurons" }, svg);
    const edgeCount = n.slice(1).reduce((s, k, l) => s + k * n[l], 0);
    const edges = [null];
    const pulses = [null];
    for (let l = 1; l <= L; l++) {
      const layer = [];
      const plines = [];
      for (let j = 0; j < n[l]; j++) {
        const row = [];
        for (let i = 0; i < n[l - 1]; i++) {
          const p = { x1: X(l - 1) + r, y1: Y(l - 1, i), x2: X(l) - r, y2: Y(l, j) };
          const fz = frozen.includes(`W${l}`);
          const ge = svgEl("g", { class: fz ? "edge frozen" : "edge", "data-weight": `${l}:${j}:${i}` }, gEdges);
          svgEl("line", { ...p, class: "hit" }, ge); // the edge itself is drawn on the canvas under the SVG
          plines.push(p);
          const [label, label2] = edgeCount <= LABEL_EDGES ? edgeLabels(gLabels, p, l, j, i) : [];
          row.push({ g: ge, p, frozen: fz, label, label2 });
        }
        layer.push(row);
      }
      edges.push(layer);
      pulses.push(plines);
    }
    const neurons = n.map((k, l) =>
      Array.from({ length: k }, (_, j) => {
        const x = X(l);
        const y = Y(l, j);
        const ng = svgEl(
          "g",
          {
            class: "neuron",
            "data-neuron": `${l}:${j}`,
            transform: `translate(${x},${y})`,
            tabindex: 0,
            role: "button",
            "aria-label": `${l === 0 ? "input" : l === L ? "output" : `hidden layer ${l}`} unit ${j + 1}`,
          },
          gNeurons,
        );
        const ring = svgEl("circle", { class: "ring", r: r + 3, visibility: "hidden" }, ng);
        const body = svgEl("circle", { class: "body", r }, ng);
        // outputs read to the right (value, target, δ); others below
        const right = l === L;
        // in em, so the lines stay apart at any type size (presenter mode)
        const val = svgEl("text", right ? { class: "val", x: r + 8, dy: "-0.45em" } : { class: "val", y: r, dy: "1.05em", "text-anchor": "middle" }, ng);
        const dval = svgEl("text", right ? { class: "dval", x: r + 8, dy: "2.2em" } : { class: "dval", y: r, dy: "2.35em", "text-anchor": "middle" }, ng);
        const out = { g: ng, ring, body, val, dval, x, y };
        if (l > 0 && !biasFree.includes(l)) {
          // a bias-free layer has none to draw; a frozen bias is drawn dashed
          const cls = frozen.includes(`b${l}`) ? "bias frozen" : "bias";
          const at = { x: x - r - 9, y: y - r - 3, width: 9, height: 9, rx: 2 };
          out.bias = svgEl("rect", { class: cls, "data-bias": `${l}:${j}`, ...at }, gNeurons);
        }
        if (l === 0) svgEl("text", { class: "name", x: -r - 6, y: 4, "text-anchor": "end" }, ng).textContent = `x${j + 1}`;
        if (l === L) {
          out.tgt = svgEl("text", { class: "tgt", x: r + 8, dy: "0.9em" }, ng);
          out.tgt.dataset.out = j;
        }
        if (l > 0 && store.dataset?.extent) {
          // all maps are drawn on one canvas (./netlayers.js)
          out.map = { x, y, m: Math.floor(r * 1.15) };
        }
        return out;
      }),
    );
    const loss = svgEl("text", { class: "loss", x: X(L), y: H - 10, "text-anchor": "middle" }, svg);
    loss.dataset.loss = "";
    const roomy = gap >= 2 * r + 30;
    const ringMax = Math.max(3, Math.min(14, gap / 2 - r - 2));
    g = { key: key(), n, L, r, X, titles, edges, pulses, neurons, loss, roomy, ringMax, mapsPending: true, colW: L ? (W - padL - padR) / L : W };
  }

  const sc = () => store.server?.scenario;
  const key = () =>
    JSON.stringify([store.layers, W, H, !!store.dataset?.extent, sc()?.frozen, sc()?.bias_free, store.view.digits, !!store.view.presenter]);

  function layerScale(l, values) {
    if (l === 0) return inputScale;
    const rg = RANGE[store.acts[l - 1]];
    if (rg) return Math.max(Math.abs(rg[0]), Math.abs(rg[1]));
    return Math.max(1, ...values.map(Math.abs));
  }

  // The weights on screen: mid-morph for the layer being updated.
  function shownWeight(l, j, i, t) {
    const c = store.cur;
    const w = store.weights[l - 1][j][i];
    const sh = store.shown;
    if (c && sh && sh.event === "update" && sh.layer === l && c.update[l] && t < 1) {
      return lerp(c.w0[l - 1][j][i], w, ease(t));
    }
    return w;
  }

  function drawMaps() {
    const ext = store.dataset?.extent;
    if (!g || !ext) return;
    let changed = g.mapsPending;
    g.mapsPending = false;
    const list = [];
    for (let l = 1; l <= g.L; l++) {
      const rg = RANGE[store.acts[l - 1]];
      for (let j = 0; j < g.n[l]; j++) {
        const key = `${l}:${j}`;
        const m = store.maps.byKey.get(key);
        const nm = g.neurons[l][j].map;
        if (!nm) continue;
        // a map already drawn is not sent again: its pixels wait where they are drawn
        const map = m && nm.drawn !== m ? m : null;
        nm.drawn = m;
        changed ||= !!map;
        const scale = !map || rg ? 1 : Math.max(Math.abs(map.lo), Math.abs(map.hi), 1e-9);
        list.push({ key, x: nm.x, y: nm.y, m: nm.m, scale, map });
      }
    }
    if (changed) layers.maps(list);
  }

  // new blank canvases (to the worker or back): all they show drawn again, the SVG kept
  function repaint() {
    if (!g) return;
    g.edgesAt = -Infinity;
    g.mapsPending = true;
    for (const N of g.neurons.flat()) if (N.map) N.map.drawn = null;
  }

  function draw(now, seen) {
    if (!W || !H || !store.layers.length || !store.weights.length) return false;
    if (store.server?.playing && layers.offload()) repaint();
    if (!g || g.key !== key()) build();
    if (seen.has("data") || seen.has("all")) {
      const xs = store.dataset?.train.x || [];
      inputScale = Math.max(1e-9, ...xs.flat().map(Math.abs));
    }
    if (seen.has("maps") || seen.has("all") || seen.has("net") || g.mapsPending) drawMaps();
    const c = store.cur;
    const sh = store.shown;
    const view = store.view;
    const D = view.digits || 4;
    const dur = view.animMs || 600;
    const t = sh && sh.event !== "frame" ? clamp((now - sh.at) / dur, 0, 1) : 1;
    const ex = store.sel();
    const { n, L } = g;
    const training = store.server?.playing === "train"; // the exact values wait for the pause

    // phase band and titles
    const bl = !sh || sh.event === "frame" ? null : sh.event === "batch" ? 0 : sh.event === "output_error" ? L : sh.layer;
    // training, the edges' canvas (a draw's costliest raster) at 5 Hz: their widths move slowly
    const lay = !training || seen.has("all") || !(now - g.edgesAt < 180) ? layers : NO_LINES;
    if (lay === layers) g.edgesAt = now;
    lay.clear();
    if (bl !== null) {
      const x0 = bl === 0 || sh.event === "output_error" ? g.X(bl) - g.r - 8 : g.X(bl - 1) - g.r - 8;
      lay.band(x0, 30, g.X(bl) + g.r + 8 - x0, H - 40, sh.event);
    }
    fitTitles(g, store.acts, W);

    // edges: width ∝ |w|, colour = sign; gradient overlay once the layer's backward arrived
    let wRef = 1;
    for (const M of store.weights) for (const row of M) for (const v of row) wRef = Math.max(wRef, Math.abs(v));
    let gRef = 1e-12;
    if (c) for (const b of c.backward) if (b) for (const row of b.grad_w) for (const v of row) gRef = Math.max(gRef, Math.abs(v));
    for (let l = 1; l <= L; l++) {
      const back = c?.backward[l];
      const upd = c?.update[l];
      for (let j = 0; j < n[l]; j++) {
        for (let i = 0; i < n[l - 1]; i++) {
          const e = g.edges[l][j][i];
          const w = shownWeight(l, j, i, t);
          const u = Math.min(1, Math.abs(w) / wRef);
          lay.line(e.p, 0.6 + 6 * u, w, 0.3 + 0.05 * Math.round(14 * u), e.frozen ? 1 : 0);
          if (!training) attr(e.g, "data-value", store.weights[l - 1][j][i]);
          const gshow = !!back && (!upd || (sh.event === "update" && sh.layer === l && t < 1));
          if (gshow) {
            const gv = back.grad_w[j][i];
            lay.line(e.p, 1 + 5 * Math.min(1, Math.abs(gv) / gRef), gv, 0.9, 2);
          }
          if (e.label) {
            const d = upd ? `Δ ${fmt(upd.dw[j][i], D)}` : back ? `∂ ${fmt(back.grad_w[j][i], D)}` : "";
            show(e.label, !!view.numbers);
            show(e.label2, !!view.numbers && !!d);
            if (view.numbers) {
              text(e.label, fmt(store.weights[l - 1][j][i], D));
              text(e.label2, d);
            }
          }
        }
      }
    }

    // a pulse along each edge of the layer the phase is passing: a dash 7% of the edge long
    if (sh && (sh.event === "forward" || sh.event === "backward") && sh.layer >= 1 && sh.layer <= L && t < 1) {
      const s = sh.event === "forward" ? lerp(-0.08, 1, t) : lerp(1, -0.08, t);
      for (const p of g.pulses[sh.layer]) lay.pulse(p, s, s + 0.07, sh.event);
    }

    // neurons: fill = activation of the highlighted example; rings = δ
    let dRef = 1e-12;
    // δ per layer; the inputs get ∂E/∂x (delta_input) once the backward pass reaches layer 1
    const deltaOf = (l) => {
      if (!c) return null;
      if (l === 0) return c.backward[1]?.delta_input ?? null;
      return c.backward[l]?.delta ?? (l === L ? c.outErr?.delta : null);
    };
    for (let l = 0; l <= L; l++) {
      const d = deltaOf(l);
      if (d) for (const v of d[ex]) dRef = Math.max(dRef, Math.abs(v));
    }
    for (let l = 0; l <= L; l++) {
      const fw = l === 0 ? null : c?.forward[l];
      // between steps in train mode, the frame's activations of the highlighted example
      const xs = !c && store.frameActs ? store.frameActs[l] : l === 0 ? c?.batch?.x[ex] : fw?.a[ex];
      const zs = fw?.z[ex];
      const scale = xs ? layerScale(l, xs) : 1;
      const current = sh && sh.layer === l && sh.event === "forward";
      const lighting = l === 0 && sh?.event === "batch";
      const d = deltaOf(l);
      const ringT = sh?.event === "backward" && sh.layer === l ? ease(t) : 1;
      for (let j = 0; j < n[l]; j++) {
        const N = g.neurons[l][j];
        let v = xs ? xs[j] : null;
        const z = current && t < 0.5 && zs; // the label shows z, and is formatted only if seen
        if (z) v = zs[j];
        else if (current && zs) {
          v = lerp(zs[j], xs[j], ease((t - 0.5) * 2));
        }
        if (lighting && v !== null) v *= ease(t);
        attr(N.body, "fill", v === null ? "#f4f4f4" : divColor(v / scale));
        // hidden SVG text is not written: it is laid out again at each change
        const seenVal = v !== null && (l === L || (view.numbers && g.roomy));
        show(N.val, seenVal);
        if (seenVal) text(N.val, z ? `z ${fmt(v, D)}` : fmt(xs[j], D));
        const dv = d ? d[ex][j] : null;
        show(N.ring, dv !== null);
        const seenD = dv !== null && !!view.numbers && (l === L || g.roomy);
        show(N.dval, seenD);
        if (dv !== null) {
          attr(N.ring, "r", (g.r + 3 + g.ringMax * ringT * Math.sqrt(Math.abs(dv) / dRef)).toFixed(1));
          attr(N.ring, "stroke", signColor(dv));
          if (seenD) text(N.dval, `${l ? "δ" : "∂E/∂x"} ${fmt(dv, D)}`);
        }
        if (N.bias) {
          const b = store.biases[l - 1][j];
          attr(N.bias, "fill", divColor(b / wRef));
          attr(N.bias, "stroke", signColor(b));
        }
        if (N.tgt) {
          const oe = c?.outErr;
          show(N.tgt, !!oe);
          if (oe) text(N.tgt, `t ${fmt(oe.target[ex][j], D)}`);
        }
      }
    }
    const oe = c?.outErr;
    show(g.loss, !!oe);
    if (oe) {
      const m = oe.losses.length;
      text(g.loss, m > 1 ? `E = ${fmt(oe.losses[ex], D)} · C = ${fmt(oe.loss, D)}` : `E = ${fmt(oe.loss, D)}`);
    }

    // selection outline
    const s = store.selection;
    const selKey = s ? `${s.kind}:${s.l}:${s.j}${s.kind === "weight" ? ":" + s.i : ""}` : "";
    if (g.selKey !== selKey) {
      svg.querySelectorAll(".sel").forEach((e) => e.classList.remove("sel"));
      if (s) {
        const q = s.kind === "weight" ? `[data-weight="${s.l}:${s.j}:${s.i}"]` : `[data-${s.kind}="${s.l}:${s.j}"]`;
        if (s.kind === "layer") svg.querySelectorAll(`[data-neuron^="${s.l}:"]`).forEach((e) => e.classList.add("sel"));
        else svg.querySelector(q)?.classList.add("sel");
      }
      g.selKey = selKey;
    }
    layers.done();
    if (hover) drawTip();
    attr(root, "data-animating", t < 1 ? "true" : "false");
    // measuring labels forces a layout: while training, once a second (a pause redraws all)
    if (t >= 1 && !(training && now - g.clutterAt < 1000)) declutter(g, svg, root, store, now);
    return t < 1;
  }

  // the tooltip, kept live while hovered; its text comes from ./nettip.js, loaded at the first hover
  let tipText = null;
  let tipLoading = null;
  function drawTip() {
    if (tipText) return text(tip, tipText(store, hover, g.L));
    tipLoading ??= import("./nettip.js").then((m) => {
      tipText = m.tipText;
      if (hover) drawTip();
    });
  }

  function target(e) {
    const t = e.target.closest?.("[data-neuron],[data-weight],[data-bias]");
    if (!t) return null;
    const [kind, v] = t.dataset.weight
      ? ["weight", t.dataset.weight]
      : t.dataset.bias
        ? ["bias", t.dataset.bias]
        : ["neuron", t.dataset.neuron];
    const [l, j, i] = v.split(":").map(Number);
    return { kind, l, j, i };
  }

  svg.addEventListener("click", (e) => {
    const t = target(e);
    if (t) actions.select(t);
  });
  svg.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    const t = target(e);
    if (t) actions.select(t);
  });
  svg.addEventListener("pointermove", (e) => {
    const t = target(e);
    if (!t) {
      hover = null;
      tip.hidden = true;
      return;
    }
    hover = t;
    tip.hidden = false;
    const r = root.getBoundingClientRect();
    tip.style.transform = `translate(${Math.round(e.clientX - r.left + 14)}px,${Math.round(e.clientY - r.top + 14)}px)`;
    drawTip();
  });
  svg.addEventListener("pointerleave", () => {
    hover = null;
    tip.hidden = true;
  });

  // 10 Hz while training; while animating, 30 Hz if a phase's animation lasts long enough to see
  const every = () => (store.server?.playing === "train" || store.view.animMs < 200 ? 100 : 33);
  return { topics: ["all", "net", "params", "phase", "maps", "data", "view", "select", "follow"], draw, every, watch: root, svg: () => svg, root };
}
