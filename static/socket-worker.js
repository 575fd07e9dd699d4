// The websocket off the page's main thread: messages go to the page in order, in batches a few ms
// apart, keeping only a batch's newest maps. static/socket.js keeps the reconnecting.
// Connected with maps=page, the server sends no maps with train frames: they are drawn here,
// from each frame's weights (./planemaps.js), for the newest frame of a batch only, and in at
// most half of this worker's time: on a slow device the maps come less often, never late.

import { packMaps } from "./planemaps.js";
import { decodeMaps } from "./wire.js";

const BATCH_MS = 8; // a frame and its maps, sent back to back, mostly arrive in one batch
let ws = null;
let batch = [];
let timer = 0;
let plane = { activations: null, extent: null }; // from the latest `state` and `dataset`
let held = null; // a frame whose maps wait for their turn to be drawn
let heldTimer = 0;
let drawCost = 0; // ms the last drawing took
let drawEnd = 0; // when it ended (performance.now())

// a batch's maps item: the server's, decoded, or a frame's drawn ({frame, plane}); null if it
// cannot be drawn (weights that do not fit the plane's network)
function drawn(item) {
  if (!item.frame) return item;
  const { frame: f, plane: p } = item;
  const t0 = performance.now();
  try {
    const buf = packMaps({ activations: p.activations, weights: f.weights, biases: f.biases }, p.extent, f.maps, f.step);
    return { ...decodeMaps(buf), buf };
  } catch {
    return null;
  } finally {
    drawEnd = performance.now();
    drawCost = drawEnd - t0;
  }
}

function post(items) {
  const bufs = items.filter((m) => typeof m !== "string").map((m) => m.buf);
  self.postMessage({ op: "batch", items }, bufs);
}

function drawHeld() {
  heldTimer = 0;
  const m = held && drawn(held);
  held = null;
  if (m) post([m]);
}

function flush() {
  timer = 0;
  if (!batch.length) return;
  const last = batch.findLastIndex((m) => typeof m !== "string");
  const items = batch.filter((m, k) => typeof m === "string" || k === last);
  batch = [];
  const at = items.findIndex((m) => typeof m !== "string");
  if (at >= 0) {
    held = null; // newer maps come: the held ones are out of date
    const due = drawEnd + drawCost; // drawing takes at most half of the time
    if (items[at].frame && performance.now() < due) {
      held = items[at];
      heldTimer ||= setTimeout(drawHeld, due - performance.now());
      items.splice(at, 1);
    } else {
      const m = drawn(items[at]);
      if (m) items[at] = m;
      else items.splice(at, 1);
    }
  }
  if (items.length) post(items);
}

function push(item) {
  batch.push(item);
  if (!timer) timer = setTimeout(flush, BATCH_MS);
}

// the dataset event ends with its extent: read that much, not the (maybe megabytes of) rows
function extentOf(text) {
  const k = text.lastIndexOf('"extent":');
  try {
    return JSON.parse(text.slice(k + 9, -1));
  } catch {
    return JSON.parse(text).extent;
  }
}

// what a text event tells the maps drawn here; a frame with maps to draw gives its item
function watch(text) {
  if (text.startsWith('{"type":"state"')) {
    plane = { ...plane, activations: JSON.parse(text).scenario?.activations ?? null };
  } else if (text.startsWith('{"type":"dataset"')) {
    plane = { ...plane, extent: extentOf(text) };
  } else if (text.startsWith('{"type":"frame"')) {
    const f = JSON.parse(text);
    if (f.maps != null && plane.extent && plane.activations) return { frame: f, plane };
  }
  return null;
}

self.onmessage = ({ data }) => {
  if (data.op === "open") {
    const sock = new WebSocket(data.url);
    ws = sock;
    plane = { activations: null, extent: null };
    held = null;
    sock.binaryType = "arraybuffer";
    sock.onopen = () => self.postMessage({ op: "open" });
    sock.onmessage = (e) => {
      if (typeof e.data === "string") {
        push(e.data);
        const item = data.pageMaps ? watch(e.data) : null;
        if (item) push(item);
        return;
      }
      const m = decodeMaps(e.data);
      if (m) push({ ...m, buf: e.data });
    };
    sock.onclose = (e) => {
      if (ws !== sock) return; // an old socket, closed on purpose
      flush();
      self.postMessage({ op: "close", code: e.code });
    };
  } else if (data.op === "send") {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(data.text);
  } else if (data.op === "close") {
    if (ws) ws.close();
  }
};
