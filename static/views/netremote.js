// The network's canvases handed to ../paint-worker.js, which draws them from then on, off the
// page's main thread; loaded when the network first plays. null where no worker starts.

// fresh(): new canvases in place of the old (one that had a context cannot be handed over);
// back(): the worker failed
export function remote(fresh, back) {
  let worker;
  try {
    worker = new Worker(new URL("../paint-worker.js", import.meta.url), { type: "module" });
  } catch {
    return null;
  }
  const waiting = new Map(); // snapshots asked for, by id
  let id = 0;
  worker.onerror = () => {
    worker.terminate();
    back();
  };
  worker.onmessage = ({ data }) => {
    waiting.get(data.id)?.(data.blob);
    waiting.delete(data.id);
  };
  const pair = fresh().map((c) => c.transferControlToOffscreen());
  worker.postMessage({ op: "canvases", pair }, pair);
  return {
    resize: (...size) => worker.postMessage({ op: "size", size }),
    draw: (m) => worker.postMessage(m, [m.ops.buffer]),
    // the worker's picture of canvas k, as a data: URL
    async snapshot(k) {
      worker.postMessage({ op: "snap", id: ++id, k });
      const blob = await new Promise((ok) => waiting.set(id, ok));
      return new Promise((ok) => Object.assign(new FileReader(), { onload: (e) => ok(e.target.result) }).readAsDataURL(blob));
    },
  };
}
