// The architecture editor's buttons and activation menus (controls.js draws it): each change
// starts a run of the scenario with the new shape. Loaded at the first use.

import { clone, fit } from "./settings.js";
import { clamp } from "./util.js";

const MAX_UNITS = 64;
const MAX_LAYERS = 10;

// e: a click or a change in the editor; doc(): the scenario shown; load(d): start it; note(text)
export function archEvent(e, doc, load, note) {
  if (e.type === "change") {
    const l = Number(e.target.dataset.act);
    if (!l) return;
    const d = clone(doc());
    d.activations[l - 1] = e.target.value;
    if (l === d.layers.length - 1) {
      // the output activation decides the loss where the loss needs one
      if (e.target.value === "softmax") d.loss = "cross_entropy";
      else if (d.loss === "cross_entropy" || (d.loss === "binary_cross_entropy" && e.target.value !== "sigmoid")) d.loss = "squared_error";
    }
    return load(fit(d));
  }
  const b = e.target.closest("button[data-arch]");
  if (!b) return;
  const d = clone(doc());
  const n = d.layers;
  const a = d.activations;
  const op = b.dataset.arch;
  if (op === "add") {
    if (n.length - 1 >= MAX_LAYERS) return note(`At most ${MAX_LAYERS} weight layers.`);
    n.splice(n.length - 1, 0, n.length > 2 ? n[n.length - 2] : 4);
    a.splice(a.length - 1, 0, a.length > 1 ? a[a.length - 2] : "tanh");
  } else if (op === "remove") {
    if (n.length <= 2) return note("There is no hidden layer to remove.");
    n.splice(n.length - 2, 1);
    a.splice(a.length - 2, 1);
  } else {
    const [l, dn] = op.split(":").map(Number);
    n[l] = clamp(n[l] + dn, 1, MAX_UNITS);
  }
  load(fit(d));
}
