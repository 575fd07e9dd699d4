// The explain panel: the equations behind the selected neuron, weight or bias, in MathML,
// filled in with the live numbers of the step (./equations.js and their styles, loaded with the first selection).

import { panelStyles } from "../lazy.js";
import { morph } from "../morph.js";
import { biasText, weightText } from "../names.js";
import { clamp, fmt } from "../util.js";
import { esc, intro, p, resting } from "./intro.js";

// every text that reaches innerHTML below goes through esc, or is built by ./equations.js

const SLICE_SPAN_MAX = 100; // the `slice` command's limit

export function createExplain(root, store, actions) {
  const body = root.querySelector("[data-explain-body]");
  const follow = root.querySelector("[data-follow]");
  const editForm = root.querySelector("[data-edit]");
  let eq = null; // the equations, once their module has loaded
  let loading = null;
  const load = () =>
    (loading ??= Promise.all([import("./equations.js"), panelStyles()]).then(([m]) => {
      eq = m.createEquations(src);
      store.touch("explain");
    }));

  // the step the equations read: the live one, or the last whole one (draw)
  const src = Object.create(store);
  src.sel = () => store.sel(src.cur);
  // fast: this page's speed, or steps a second apart or less (a room's viewer plays at the presenter's)
  const viewer = () => store.room?.role === "viewer"; // it sends no command
  const fast = () => store.server?.playing === "animate" && (store.view.animMs < 200 || store.ended?.gap < 1000);

  function autoSelection(sh) {
    const L = store.layers.length - 1;
    if (!sh || sh.event === "frame" || !src.cur) return null;
    switch (sh.event) {
      case "batch":
        return { kind: "neuron", l: 0, j: 0 };
      case "forward":
        return { kind: "neuron", l: sh.layer, j: 0 };
      case "output_error":
        return { kind: "neuron", l: L, j: 0 };
      case "backward":
        return sh.layer === L ? { kind: "weight", l: L, j: 0, i: 0 } : { kind: "neuron", l: sh.layer, j: 0 };
      default:
        return { kind: "weight", l: sh.layer, j: 0, i: 0 };
    }
  }

  body.addEventListener("click", (e) => {
    const o = e.target.closest?.("[data-open-preset]");
    if (o) return actions.openPreset(o.dataset.openPreset);
    const t = e.target.closest?.("[data-select]");
    if (!t) return;
    const [kind, l, j, i] = t.dataset.select.split(":");
    actions.select({ kind, l: +l, j: +j, i: i === undefined ? undefined : +i });
  });

  // A whole layer (picked in the health view, or named by a pause): its reason and health.
  function layer(l) {
    const h = store.health[store.health.length - 1]?.layers[l - 1];
    let out = p(`Layer ${l}: ${store.layers[l]} ${store.acts[l - 1]} units, weights W${l} (${store.layers[l]}×${store.layers[l - 1]}).`);
    if (h) out += p(`Dead units ${h.dead} · saturated ${h.saturated} · ‖ΔW‖/‖W‖ = ${fmt(h.update_ratio, 3)} (healthy near 1e−3).`);
    return out;
  }

  function draw(now) {
    if (!store.server) return false;
    // fast, it draws once a second: the last whole step, so that its equations stay and only
    // their numbers change (a random phase's new equations made the longest frame)
    const whole = fast() && store.ended;
    Object.assign(src, whole || { cur: store.cur, weights: store.weights, biases: store.biases }, { fast: !!whole });
    if (!store.pinned) {
      const a = autoSelection(whole ? { event: "update", layer: store.layers.length - 1 } : store.shown);
      const s = store.selection;
      if (JSON.stringify(a) !== JSON.stringify(s)) {
        store.selection = a;
        store.touch("follow"); // the phase moved it: not urgent, unlike a click ("select")
      }
    }
    follow.hidden = !store.pinned;
    const s = store.selection;
    // the equations come with the first selection (or gradient check): until they have loaded,
    // the panel stays as it was
    if (!eq && ((s && s.kind !== "layer") || store.gradcheck)) {
      load();
      return false;
    }
    const warns = eq ? eq.begin() : [];
    const c = src.cur;
    let html = "";
    if (s) {
      if (s.kind === "weight" && !whole && eq.sliceStale(s)) requestSlice(s); // fast: a slice would lag
      if (s.kind === "layer") html += layer(s.l);
      else html += s.kind === "neuron" ? eq.neuron(c, s.l, s.j) : s.kind === "weight" ? eq.weight(c, s.l, s.j, s.i) : eq.bias(c, s.l, s.j);
    } else {
      html += resting(store);
    }
    const r = store.server.paused_reason;
    if (s && r && r.layer === s.l && (r.unit === null || (s.kind === "neuron" && r.unit === s.j))) warns.unshift(r.message);
    if (warns.length) html = `<div class="warn" role="alert">${warns.map((w) => p(esc(w))).join("")}</div>` + html;
    html += (eq ? eq.gradcheck() : "") + intro(store);
    if (body.__html !== html) {
      body.__html = html;
      morph(body, html); // the same equations with new numbers: only the numbers change
    }
    const editable = s && (s.kind === "weight" || s.kind === "bias");
    editForm.hidden = !editable;
    if (editable) {
      const lab = editForm.querySelector("label");
      const v = s.kind === "weight" ? src.weights[s.l - 1][s.j][s.i] : src.biases[s.l - 1][s.j];
      const name = s.kind === "weight" ? weightText(s.l, s.j, s.i) : biasText(s.l, s.j);
      lab.textContent = `Set ${name} (now ${fmt(v, 6)})`;
    }
    return false;
  }

  // The loss along the selected weight (the `slice` command), once per weight, step and value.
  let sliceKey = "";
  function requestSlice(s) {
    const w = src.weights[s.l - 1][s.j][s.i];
    // the weight's value is part of the key: after an edit at the same step, the slice is asked again
    const key = `${s.l}:${s.j}:${s.i}@${store.server.step}=${w}`;
    if (key === sliceKey || store.server.playing === "train" || viewer()) return;
    sliceKey = key;
    // within the protocol's limit on span (0 < span ≤ 100), however large the weight
    const span = clamp(1.5 * Math.abs(w), 1, SLICE_SPAN_MAX);
    const step = store.server.step; // the step shown, wherever the run's cursor is
    actions.send({ type: "slice", layer: s.l, to: s.j, from: s.i, span, points: 61, step });
  }

  // MathML layout is the page's heaviest work: while playing, once a second at fast speeds
  const every = () => (store.view.animMs >= 200 ? 250 : 1000);
  return { topics: ["all", "phase", "explain", "select", "follow", "params", "view"], draw, every, watch: root };
}
