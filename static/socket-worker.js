// The websocket off the page's main thread: messages go to the page in order, in batches a few ms
// apart, keeping only a batch's newest maps. static/socket.js keeps the reconnecting.
// Connected with maps=page, the server sends no maps with train frames: they are drawn here,
// from each frame's weights (./planemaps.js), for the newest frame of a batch only.

import { packMaps } from "./planemaps.js";
import { decodeMaps } from "./wire.js";

const BATCH_MS = 8; // a frame and its maps, sent back to back, mostly arrive in one batch
let ws = null;
let batch = [];
let timer = 0;
let plane = { activations: null, extent: null }; // from the latest `state` and `dataset`

// a batch's maps item: the server's, decoded, or a frame's to draw ({frame})
function drawn(item) {
  if (!item.frame) return item;
  const f = item.frame;
  const buf = packMaps({ activations: plane.activations, weights: f.weights, biases: f.biases }, plane.extent, f.maps, f.step);
  return { ...decodeMaps(buf), buf };
}

function flush() {
  timer = 0;
  if (!batch.length) return;
  const last = batch.findLastIndex((m) => typeof m !== "string");
  const items = batch.filter((m, k) => typeof m === "string" || k === last);
  batch = [];
  const at = items.findIndex((m) => typeof m !== "string");
  if (at >= 0) {
    try {
      items[at] = drawn(items[at]);
    } catch {
      items.splice(at, 1); // weights that do not fit the plane's network: no maps this time
    }
  }
  const bufs = items.filter((m) => typeof m !== "string").map((m) => m.buf);
  self.postMessage({ op: "batch", items }, bufs);
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
    plane.activations = JSON.parse(text).scenario?.activations ?? null;
  } else if (text.startsWith('{"type":"dataset"')) {
    plane.extent = extentOf(text);
  } else if (text.startsWith('{"type":"frame"')) {
    const f = JSON.parse(text);
    if (f.maps != null && plane.extent && plane.activations) return { frame: f };
  }
  return null;
}

self.onmessage = ({ data }) => {
  if (data.op === "open") {
    const sock = new WebSocket(data.url);
    ws = sock;
    plane = { activations: null, extent: null };
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
