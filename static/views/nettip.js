// The network's tooltip: what is known of the weight, bias or neuron under the pointer.
// Loaded at the first hover (./network.js).

import { biasText, weightText } from "../names.js";
import { fmt } from "../util.js";

export function tipText(store, hover, L) {
  const D = store.view.digits || 4;
  const c = store.cur;
  const ex = store.sel();
  const lines = [];
  const { kind, l, j, i } = hover;
  if (kind === "weight") {
    const fz = store.server?.scenario?.frozen?.includes(`W${l}`) ? " (frozen)" : "";
    lines.push(`${weightText(l, j, i)} = ${fmt(store.weights[l - 1][j][i], D)}${fz}`);
    if (c?.backward[l]) lines.push(`∂C/∂w = ${fmt(c.backward[l].grad_w[j][i], D)}`);
    if (c?.update[l]) lines.push(`Δw = ${fmt(c.update[l].dw[j][i], D)}`);
  } else if (kind === "bias") {
    const fz = store.server?.scenario?.frozen?.includes(`b${l}`) ? " (frozen)" : "";
    lines.push(`${biasText(l, j)} = ${fmt(store.biases[l - 1][j], D)}${fz}`);
    if (c?.backward[l]) lines.push(`∂C/∂b = ${fmt(c.backward[l].grad_b[j], D)}`);
  } else {
    if (l === 0 && c?.batch) lines.push(`x${j + 1} = ${fmt(c.batch.x[ex][j], D)}`);
    if (l === 0 && c?.backward[1]?.delta_input) lines.push(`∂E/∂x = ${fmt(c.backward[1].delta_input[ex][j], D)}`);
    const fw = c?.forward[l];
    if (fw) lines.push(`z = ${fmt(fw.z[ex][j], D)}`, `a = ${fmt(fw.a[ex][j], D)}`);
    const d = c?.backward[l]?.delta ?? (l === L ? c?.outErr?.delta : null);
    if (d) lines.push(`δ = ${fmt(d[ex][j], D)}`);
    if (!lines.length) lines.push(l === 0 ? `input ${j + 1}` : `layer ${l}, unit ${j + 1}`);
  }
  return lines.join("\n");
}
