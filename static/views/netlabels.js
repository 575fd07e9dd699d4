// The network's labels (./network.js; g: its built shape): on the edges, and titles that fit, none overlapping.

import { lerp, svgEl, text } from "../util.js";

// Weight (l, j, i)'s labels along its line p: the weight above, its ∂ or Δ below; by parity of
// i + j, crossing edges carry them at opposite ends.
export function edgeLabels(parent, p, l, j, i) {
  const t = (i + j) % 2 ? 0.72 : 0.28;
  const deg = (Math.atan2(p.y2 - p.y1, p.x2 - p.x1) * 180) / Math.PI;
  const transform = `translate(${lerp(p.x1, p.x2, t)},${lerp(p.y1, p.y2, t)}) rotate(${deg.toFixed(1)})`;
  const at = svgEl("g", { transform }, parent);
  const label = svgEl("text", { class: "elabel", y: -5, "text-anchor": "middle" }, at);
  label.dataset.weightLabel = `${l}:${j}:${i}`;
  return [label, svgEl("text", { class: "elabel d", y: 12, "text-anchor": "middle" }, at)];
}

// Each layer's title: the longest form that fits its column ("Hidden 2 · tanh", "H2 tanh", "H2").
export function fitTitles(g, acts, W) {
  const k = JSON.stringify([g.key, acts]);
  if (g.titleKey === k) return;
  g.titleKey = k;
  g.titles.forEach((tt, l) => {
    const act = acts[l - 1];
    const forms =
      l === 0 ? ["Input", "In"] : l === g.L ? [`Output · ${act}`, `Out ${act}`, "Out"] : [`Hidden ${l} · ${act}`, `H${l} ${act}`, `H${l}`, `${l}`];
    // the first and last titles may also use the margin beside them
    const room = l === 0 ? Math.min(g.colW, 2 * g.X(0)) : l === g.L ? Math.min(g.colW, 2 * (W - g.X(g.L))) : g.colW;
    for (const f of forms) {
      text(tt, f);
      if (tt.getComputedTextLength() <= room - 6) break;
    }
  });
}

// No two labels overlap or leave the panel: by importance (titles, outputs, loss, neurons,
// inputs, edges), one that would is hidden, and the page says so.
const RANK = ["layer-title", "tgt", "loss", "val", "dval", "name", "elabel"];
export function declutter(g, svg, root, store, now) {
  const all = [...svg.querySelectorAll("text")];
  const sig = all.map((t) => t.__t ?? t.textContent).join("|") + all.map((t) => t.__c?.visibility ?? "").join("");
  if (g.clutterSig === sig) return;
  g.clutterSig = sig;
  g.clutterAt = now;
  // removing an absent class still writes the attribute
  all.forEach((t) => t.classList.contains("clutter") && t.classList.remove("clutter"));
  const shown = all.filter((t) => t.textContent && !t.closest('[visibility="hidden"]'));
  const rank = (t) => {
    const c = t.getAttribute("class") || "";
    const k = RANK.findIndex((n) => c.split(" ").includes(n));
    return (k < 0 ? RANK.length : k) * 10 + (t.closest("[data-neuron]")?.dataset.neuron.startsWith(`${g.L}:`) ? 0 : 1);
  };
  shown.sort((a, b) => rank(a) - rank(b));
  const panel = root.getBoundingClientRect();
  const boxes = shown.map((t) => t.getBoundingClientRect());
  const kept = [];
  let hidden = 0;
  shown.forEach((t, k) => {
    const b = boxes[k];
    const out = b.left < panel.left || b.top < panel.top || b.right > panel.right || b.bottom > panel.bottom;
    const hit = kept.some((o) => b.left < o.right && o.left < b.right && b.top < o.bottom && o.top < b.bottom);
    if (out || hit) {
      t.classList.add("clutter");
      hidden++;
    } else {
      kept.push(b);
    }
  });
  const why = document.querySelector("[data-numbers-why]");
  if (why) {
    // its room is kept: a line that came and went would resize the network
    why.style.visibility = !store.view.numbers || (hidden === 0 && g.roomy) ? "hidden" : "visible";
  }
}
