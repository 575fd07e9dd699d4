// The breakpoints form: one row per kind with its parameters; "Set" sends them all at once
// (`breakpoints`), and the form follows `state.breakpoints`.

import { el } from "../util.js";

const KINDS = [
  ["loss_increase", "Loss rises", [["k", 3, "epochs"]]],
  ["vanishing", "Vanishing ‖∂C/∂W‖ <", [["threshold", "1e-4", ""]]],
  ["exploding", "Exploding ‖∂C/∂W‖ >", [["threshold", 100, ""]]],
  ["dead_units", "Dead ReLU units", []],
  ["saturated", "Saturated units", [["epsilon", 0.01, "within"], ["fraction", 0.9, "of examples"]]],
  ["step", "At step", [["step", 1000, ""]]],
  ["accuracy", "Accuracy ≥", [["value", 0.95, ""]]],
];

export function createBreakpoints(root, store, actions) {
  const form = el("form", { class: "breakpoints", "aria-label": "Breakpoints" }, root);
  el("p", { class: "muted" }, form, "Always on: NaN or infinity anywhere.");
  const rows = KINDS.map(([kind, name, params]) => {
    const lab = el("label", { "data-bp": kind }, form);
    const box = el("input", { type: "checkbox" }, lab);
    lab.append(` ${name} `);
    const inputs = params.map(([key, v, unit]) => {
      const i = el("input", { type: "text", inputmode: "decimal", value: v, size: 6, "aria-label": `${kind} ${key}` }, lab);
      if (unit) lab.append(` ${unit} `);
      return [key, i];
    });
    return { kind, box, inputs };
  });
  el("button", { type: "submit", "data-bp-set": "" }, form, "Set breakpoints");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const on = rows.filter((r) => r.box.checked).map((r) => Object.fromEntries([["kind", r.kind], ...r.inputs.map(([k, i]) => [k, k === "k" || k === "step" ? Math.round(+i.value) : +i.value])]));
    actions.send({ type: "breakpoints", on });
  });
  let key = "";

  function draw() {
    const list = store.server?.breakpoints ?? [];
    const k = JSON.stringify(list);
    if (k === key) return false;
    key = k;
    for (const r of rows) {
      const e = list.find((b) => b.kind === r.kind);
      r.box.checked = !!e;
      if (e) r.inputs.forEach(([p, i]) => (i.value = e[p]));
    }
    return false;
  }
  return { topics: ["all"], draw };
}
