// What the lesson view computes without the page: where a phase sits in a step, which phase
// shows a question's value, which explain equations give it, and progress in localStorage.

const PROGRESS_KEY = "deltaflow:lessons";
export const VIEW_SELECTORS = {
  explain: "[data-explain]",
  net: "[data-net]",
  heatmap: "[data-heatmap]",
  chart: "[data-chart]",
  examples: "[data-examples]",
  gradnorm: "[data-gradnorm]",
  log: "[data-log]",
  controls: "[data-next]",
};
// where a target's value first shows in a step: the phase to reveal after an answer
export const PHASE_OF = {
  z: "forward",
  a: "forward",
  E: "output_error",
  loss: "output_error",
  cost: "output_error",
  delta: "backward",
  grad_w: "backward",
  grad_b: "backward",
  new_w: "update",
  new_b: "update",
  dw: "update",
  db: "update",
};

// a phase's place in a step of L weight layers: batch, forward 1..L, output_error, backward L..1, update 1..L
export function phaseIndex(p, L) {
  switch (p.event) {
    case "batch":
      return 0;
    case "forward":
      return p.layer;
    case "output_error":
      return L + 1;
    case "backward":
      return L + 1 + (L - p.layer + 1);
    case "update":
      return 2 * L + 1 + p.layer;
  }
  return 0;
}

export function loadProgress() {
  try {
    return JSON.parse(localStorage.getItem(PROGRESS_KEY) || "{}") || {};
  } catch {
    return {};
  }
}

export function saveProgress(p) {
  try {
    localStorage.setItem(PROGRESS_KEY, JSON.stringify(p));
  } catch {
    // storage may be off (a private window): progress is then kept for this page only
  }
}

// the explain panel's selection that shows the equation giving a target's value
export function selectionOf(t, L) {
  if (!t) return null;
  const l = t.layer ?? 1;
  if (["grad_w", "w", "new_w", "dw"].includes(t.quantity)) return { kind: "weight", l, j: t.unit ?? 0, i: t.from ?? 0 };
  if (["grad_b", "new_b", "db"].includes(t.quantity)) return { kind: "bias", l, j: t.unit ?? 0 };
  if (["E", "loss", "cost"].includes(t.quantity)) return { kind: "neuron", l: L, j: 0 };
  return { kind: "neuron", l, j: t.unit ?? 0 };
}

// the explain panel's equations for one quantity: an equation and the lines that continue it
// ("= ..."), chosen by what its left-hand side names
export function pickEquations(maths, quantity) {
  const groups = [];
  for (const m of maths) {
    const t = m.textContent.trim();
    if (t.startsWith("=") && groups.length) groups[groups.length - 1].push(m);
    else groups.push([m]);
  }
  const lead = (g) => g[0].textContent.split("=")[0].trim();
  const wants = {
    z: (h) => h.startsWith("z"),
    a: (h) => h.startsWith("a"),
    delta: (h) => h.startsWith("δ"),
    E: (h) => h.startsWith("E"),
    loss: (h) => h.startsWith("C") || h.startsWith("E"),
    cost: (h) => h.startsWith("C"),
    grad_w: (h) => h.includes("∂"),
    grad_b: (h) => h.includes("∂"),
  };
  const want = wants[quantity] || ((h) => h.includes("←") || h.startsWith("w") || h.startsWith("b"));
  const found = groups.filter((g) => want(lead(g)));
  return (found.length ? found : groups).slice(0, 2).flat();
}
