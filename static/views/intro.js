// What the explain panel shows before anything is selected: a line on what to do, then what
// backpropagation is. The page draws it at load; ./explain.js loads with the first phase shown
// or the first selection (static/app.js).

// every text that reaches innerHTML goes through esc, or is written here
export const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
export const p = (s) => `<p>${s}</p>`;

// The line on what to do, while nothing is selected.
export function resting(store) {
  return p(
    store.shown?.event === "frame"
      ? "Training flat out: pause, then step to see the equations with numbers."
      : "Step with → to see each phase; click any neuron, weight or bias to see its equations.",
  );
}

export function intro(store) {
  const L = store.layers.length - 1;
  const rule =
    L === 1
      ? `<p class="rule">No hidden layer: this is <strong>the delta rule</strong>, ` + `Δw = −η δ x with δ = ∂E/∂z of the output.</p>`
      : "";
  // the worked example trains its biases, which the classic hand calculation does not
  const biases =
    store.server.scenario.name === "worked-example"
      ? `<p class="rule" data-trains-biases>This run also <strong>trains the biases</strong>, unlike the classic hand calculation, ` +
        `which keeps b<sup>(1)</sup> = 0.35 and b<sup>(2)</sup> = 0.60 fixed; so from the first update its numbers differ from the published ones. ` +
        `<button type="button" data-open-preset="worked-example-fixed-bias">Open the fixed-bias variant</button></p>`
      : "";
  return (
    biases +
    `<p class="intro">Backpropagation is <strong>reverse-mode automatic differentiation</strong>: ` +
    `one forward pass computes every z and a = f(z); one backward pass applies <strong>the chain rule</strong> ` +
    `from the loss back to every weight, reusing each layer's δ = ∂E/∂z.</p>` +
    rule
  );
}

// Whether the panel needs ./explain.js: something selected or to follow, or a gradient check.
export function explaining(store) {
  const sh = store.shown;
  return !!(store.selection || store.pinned || store.gradcheck || (sh && sh.event !== "frame" && store.cur));
}

// The panel as ./explain.js draws it with nothing selected.
export function drawResting(body, store) {
  if (!store.server) return;
  const html = resting(store) + intro(store);
  if (body.__html !== html) {
    body.__html = html;
    body.innerHTML = html;
  }
}
