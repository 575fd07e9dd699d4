// The classes of the output plane: which colour is which, and which class a click on the plane
// adds (every class of the set can be picked, not just two).

import { el } from "../util.js";
import { CLASS_COLORS } from "./heatmap.js";

// "class A" / "class B" for one output (A: the high label), "class k" for one-hot outputs.
export function className(cls, outputs) {
  return outputs > 1 ? `class ${cls + 1}` : `class ${cls === 0 ? "A" : "B"}`;
}

export function createClasses(root, store) {
  let key = "";
  root.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-class]");
    if (!b) return;
    store.view.addClass = Number(b.dataset.class);
    store.touch("view");
  });

  function draw() {
    const ds = store.dataset;
    const task = store.server?.task;
    const plane = !!ds?.extent && (task === "binary" || task === "multiclass");
    root.hidden = !plane;
    if (!plane) return false;
    const outs = ds.train.y[0].length;
    const k = Math.max(2, outs);
    const picked = Math.min(store.view.addClass ?? 0, k - 1);
    const next = `${outs}:${picked}`;
    if (next === key) return false;
    key = next;
    root.replaceChildren();
    el("span", { class: "muted" }, root, "Click adds");
    for (let c = 0; c < k; c++) {
      const [r, g, b] = CLASS_COLORS[c % CLASS_COLORS.length];
      const label = className(c, outs);
      const btn = el("button", { type: "button", "data-class": c, "aria-pressed": c === picked ? "true" : "false" }, root);
      const sw = el("i", { class: "swatch", "aria-hidden": "true" }, btn);
      sw.style.background = `rgb(${r},${g},${b})`;
      btn.append(outs > 1 ? label : `${label} (target ${c === 0 ? "high" : "low"})`);
    }
    return false;
  }

  return { topics: ["all", "data", "view"], draw };
}
