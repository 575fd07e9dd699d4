// The network's band, edges and pulses on a canvas under its SVG, maps on one over it: commands
// drawn by ../paint.js here, or in a worker (./netremote.js) when it plays on a slow machine.

import { createPainter } from "../paint.js";
import { el } from "../util.js";

const PHASES = ["batch", "forward", "output_error", "backward", "update"];
// a slow machine, where the worker pays: 9 of the last 12 playing draws took 1 ms or more (a
// loaded fast machine's few slow draws do not count as an average would)
const DRAWS = 12;
export const slowMachine = (ms) => ms.length >= DRAWS && ms.slice(-DRAWS).filter((t) => t >= 1).length >= 9;

// redraw(): the canvases are new and blank, the view draws everything again
export function createNetLayers(root, svg, redraw) {
  let under = null;
  let over = null;
  let painter = null;
  let size = [1, 1, 1];
  let ops = [];
  let list = null;
  let loading = null;
  let remote = null; // ./netremote.js's, once loaded
  let moved = false;
  const costs = []; // ms of the last playing draws here
  let sampling = false;

  function canvases() {
    under?.remove();
    over?.remove();
    under = el("canvas", { class: "net-edges", "aria-hidden": "true" });
    root.insertBefore(under, svg);
    over = el("canvas", { class: "net-maps", "aria-hidden": "true" }, root);
    // a picture of a canvas, as a data: URL (the exports embed them)
    for (const [k, c] of [under, over].entries()) c.snapshot = () => painter.snapshot(k);
    return [under, over];
  }
  const here = () => ({
    ...createPainter(...canvases(), (r) => el("canvas", { width: r, height: r })),
    snapshot: async (k) => [under, over][k].toDataURL(),
  });
  painter = here();

  function resize(w, h) {
    size = [w, h, window.devicePixelRatio || 1];
    for (const c of [under, over]) Object.assign(c.style, { width: `${w}px`, height: `${h}px` });
    painter.resize(...size);
  }
  // the worker failed: back here
  const back = () => {
    painter = here();
    resize(size[0], size[1]);
    redraw();
  };

  return {
    resize,
    // playing on a slow machine: the canvases go to a worker, in a draw; true: draw all anew
    offload() {
      sampling = true;
      if (moved || !slowMachine(costs) || !HTMLCanvasElement.prototype.transferControlToOffscreen) {
        return false;
      }
      loading ??= import("./netremote.js").then((m) => (remote = m.remote));
      if (!remote) return false;
      moved = true;
      painter = remote(canvases, back) || here();
      resize(size[0], size[1]);
      return true;
    },
    clear: () => ops.push(0),
    band: (x, y, w, h, phase) => ops.push(1, x, y, w, h, Math.max(0, PHASES.indexOf(phase))),
    // a line p = {x1, y1, x2, y2} in the colour of v's sign; dash: 0 solid, 1 frozen, 2 gradient
    line: (p, width, v, alpha, dash) => ops.push(2, p.x1, p.y1, p.x2, p.y2, width, v < 0 ? 0 : 1, alpha, dash),
    // the part of p from a to b (fractions of its length): a pulse travelling along an edge
    pulse(p, a, b, phase) {
      const [s, e] = [Math.max(0, a), Math.min(1, b)].map((t) => [p.x1 + (p.x2 - p.x1) * t, p.y1 + (p.y2 - p.y1) * t]);
      if (b > a && a < 1 && b > 0) ops.push(2, ...s, ...e, 6, phase === "backward" ? 3 : 2, 1, 3);
    },
    // every neuron's map: [{key, x, y, m, scale, map}], map only when it is new; drawn at done()
    maps(l) {
      list = l;
    },
    // what was written since the last time, drawn (one message, for a worker)
    done() {
      const sample = sampling && !moved;
      sampling = false;
      if (!ops.length && !list) return;
      const t0 = performance.now();
      painter.draw({ ops: new Float64Array(ops), list });
      if (sample && costs.push(performance.now() - t0) > DRAWS) costs.shift();
      ops = [];
      list = null;
    },
  };
}
