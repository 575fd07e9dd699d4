// The network view's moving parts on two canvases, not SVG elements: under the SVG, the band,
// edges, gradient overlays and pulses; over it, the neurons' maps. The SVG keeps the text, the
// neurons and each edge's hit line (data-weight, data-value), for clicks, keys and labels.
// The view writes commands; ../paint.js draws them, here until the network first plays, then
// in ../paint-worker.js on the same canvases' offscreen twins (where the browser has them).

import { createPainter, PHASES } from "../paint.js";
import { el } from "../util.js";

// lost(): the worker failed, the canvases are new and blank: the view draws everything again
export function createNetLayers(root, svg, lost) {
  let under = null;
  let over = null;
  let painter = null; // drawing here
  let worker = null; // or there
  let size = [1, 1, 1];
  let ops = [];
  let list = null;
  let snaps = 0;
  let failed = false;
  const waiting = new Map(); // snapshot requests the worker has not answered yet

  function canvases() {
    under?.remove();
    over?.remove();
    under = el("canvas", { class: "net-edges", "aria-hidden": "true" });
    root.insertBefore(under, svg);
    over = el("canvas", { class: "net-maps", "aria-hidden": "true" }, root);
    // a picture of a canvas, as a data: URL (the exports embed them)
    for (const c of [under, over]) c.snapshot = () => snapshot(c === under ? 0 : 1);
  }
  function here() {
    canvases();
    painter = createPainter(under, over, (r) => el("canvas", { width: r, height: r }));
  }
  here();

  function snapshot(k) {
    if (!worker) return Promise.resolve([under, over][k].toDataURL());
    const id = ++snaps;
    worker.postMessage({ op: "snap", id, k });
    return new Promise((ok) => waiting.set(id, ok)).then(
      (blob) => new Promise((ok) => Object.assign(new FileReader(), { onload: (e) => ok(e.target.result) }).readAsDataURL(blob)),
    );
  }

  function send(msg) {
    if (worker) worker.postMessage(msg);
    else painter.resize(...msg.size);
  }

  function resize(w, h) {
    size = [w, h, window.devicePixelRatio || 1];
    for (const c of [under, over]) Object.assign(c.style, { width: `${w}px`, height: `${h}px` });
    send({ op: "size", size });
  }

  // Hands both canvases to a worker, which draws from then on; false where it cannot (then
  // the page goes on drawing them itself). The caller draws everything again.
  function offload() {
    if (worker || failed || !HTMLCanvasElement.prototype.transferControlToOffscreen) return false;
    try {
      worker = new Worker(new URL("../paint-worker.js", import.meta.url), { type: "module" });
    } catch {
      failed = true;
      return false;
    }
    worker.onerror = () => {
      worker.terminate();
      worker = null;
      failed = true;
      here();
      resize(size[0], size[1]);
      lost();
    };
    // a canvas that has had a context cannot be handed over: new ones take the old ones' place
    canvases();
    const pair = [under, over].map((c) => c.transferControlToOffscreen());
    worker.postMessage({ op: "canvases", pair }, pair);
    worker.onmessage = ({ data }) => {
      waiting.get(data.id)?.(data.blob);
      waiting.delete(data.id);
    };
    resize(size[0], size[1]);
    return true;
  }

  return {
    resize,
    offload,
    clear: () => ops.push(0),
    band: (x, y, w, h, phase) => ops.push(1, x, y, w, h, Math.max(0, PHASES.indexOf(phase))),
    // a line p = {x1, y1, x2, y2} in the colour of v's sign; dash: 0 solid, 1 frozen, 2 gradient
    line: (p, width, v, alpha, dash) => ops.push(2, p.x1, p.y1, p.x2, p.y2, width, v < 0 ? 0 : 1, alpha, dash),
    // the part of p from a to b (fractions of its length): a pulse travelling along an edge
    pulse: (p, a, b, phase) => ops.push(3, p.x1, p.y1, p.x2, p.y2, a, b, PHASES.indexOf(phase)),
    // every neuron's map: [{key, x, y, m, scale, map}], map only when it is new; drawn at done()
    maps(l) {
      list = l;
    },
    // the commands and maps written since the last time, drawn: one message to the worker
    done() {
      if (!ops.length && !list) return;
      const buf = Float64Array.from(ops);
      const msg = { op: "draw", ops: buf, list };
      ops = [];
      list = null;
      if (worker) worker.postMessage(msg, [buf.buffer]);
      else {
        painter.run(buf);
        if (msg.list) painter.maps(msg.list);
      }
    },
  };
}
