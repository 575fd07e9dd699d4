// Points added to the plane or removed from it, in place: `set_data` keeps the weights, the
// optimizer state, the step and the history, and Undo puts the points back as they were.

import { fmt } from "./util.js";
import { className } from "./views/classes.js";

const MAX_BYTES = 1000000; // within the server's message limit (DELTAFLOW_MAX_MESSAGE_BYTES, 1 MiB)
const TOO_LARGE = "This set is too large to change point by point; import it as a file instead.";

// The data as the page has it, or null when the dataset event held only its first rows.
function current(ds) {
  if (!ds || ds.train.size || ds.test?.size) return null;
  const data = { train: { x: ds.train.x, y: ds.train.y } };
  if (ds.test) data.test = { x: ds.test.x, y: ds.test.y };
  return data;
}

export function createPoints(store, { send, note, link }) {
  function apply(before, after, what) {
    const cmd = { type: "set_data", data: after };
    if (JSON.stringify(cmd).length > MAX_BYTES) return note(TOO_LARGE);
    link.dataEdited(before, what);
    send(cmd);
  }

  // A point of the picked class at `x` (shift: the next class).
  function add(x, shift) {
    const ds = store.dataset;
    const before = current(ds);
    if (!before) return note(TOO_LARGE);
    const y0 = ds.train.y;
    const k = Math.max(2, y0[0].length);
    const picked = Math.min(store.view.addClass ?? 0, k - 1);
    const cls = shift ? (picked + 1) % k : picked;
    let label;
    if (y0[0].length > 1) {
      label = y0[0].map((_, j) => (j === cls ? 1 : 0));
    } else {
      const vals = y0.map((r) => r[0]);
      label = [cls === 0 ? Math.max(...vals) : Math.min(...vals)];
    }
    const after = { ...before, train: { x: [...before.train.x, x], y: [...y0, label] } };
    const name = className(cls, y0[0].length);
    apply(before, after, `Added a point of ${name} at (${fmt(x[0], 3)}, ${fmt(x[1], 3)}) at step ${store.server.step}, keeping the weights`);
  }

  // Training point `i` taken out.
  function remove(i) {
    const ds = store.dataset;
    const before = current(ds);
    if (!before) return note(TOO_LARGE);
    if (before.train.x.length <= 1) return note("The last training point stays: a set needs at least one.");
    const x = before.train.x[i];
    const keep = (_, k) => k !== i;
    const after = { ...before, train: { x: before.train.x.filter(keep), y: before.train.y.filter(keep) } };
    apply(before, after, `Removed the point at (${fmt(x[0], 3)}, ${fmt(x[1], 3)}) at step ${store.server.step}, keeping the weights`);
  }

  return { add, remove };
}

// The training point drawn nearest the pointer on the plane's canvas, within a finger's reach (none: -1).
function nearest(e, canvas, ds) {
  const ext = ds.extent;
  const rect = canvas.getBoundingClientRect();
  const reach = Math.max(10, rect.width / 40);
  let best = -1;
  let bestD = reach * reach;
  ds.train.x.forEach((x, k) => {
    const px = ((x[0] - ext[0]) / (ext[1] - ext[0])) * rect.width + rect.left;
    const py = ((ext[3] - x[1]) / (ext[3] - ext[2])) * rect.height + rect.top;
    const d = (px - e.clientX) ** 2 + (py - e.clientY) ** 2;
    if (d <= bestD) [best, bestD] = [k, d];
  });
  return best;
}

// A click on the plane (views/heatmap.js): a point of the picked class where it lands (shift:
// the next class); a right-click or an Alt-click takes the training point under the pointer out.
export function onPlane(e, canvas, store, actions) {
  const ext = store.dataset?.extent;
  if (!ext) return;
  if (e.type === "contextmenu" || e.altKey) {
    const k = nearest(e, canvas, store.dataset);
    if (k < 0) return actions.note?.("No training point there to remove: right-click or Alt-click right on one.");
    return actions.removePoint(k);
  }
  const rect = canvas.getBoundingClientRect();
  const x1 = ext[0] + ((e.clientX - rect.left) / rect.width) * (ext[1] - ext[0]);
  const x2 = ext[3] - ((e.clientY - rect.top) / rect.height) * (ext[3] - ext[2]);
  actions.addPoint([x1, x2], e.shiftKey);
}
