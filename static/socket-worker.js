// The websocket off the page's main thread: messages go to the page in order, in batches a few ms
// apart, keeping only a batch's newest maps. static/socket.js keeps the reconnecting.
// Connected with maps=page, train frames come without maps: ./mapdraw.js draws them, loaded at
// the first frame (until then the page keeps the server's maps of the welcome).

import { decodeMaps } from "./wire.js";

const BATCH_MS = 8; // a frame and its maps, sent back to back, mostly arrive in one batch
let ws = null;
let batch = [];
let timer = 0;
let draw = null; // the map drawing, once loaded
let loading = null;
let last = { state: null, dataset: null }; // what it must see first, kept until it is loaded

function post(items) {
  const bufs = items.filter((m) => typeof m !== "string").map((m) => m.buf);
  self.postMessage({ op: "batch", items }, bufs);
}

function flush() {
  timer = 0;
  if (!batch.length) return;
  const newest = batch.findLastIndex((m) => typeof m !== "string");
  const items = batch.filter((m, k) => typeof m === "string" || k === newest);
  batch = [];
  const at = items.findIndex((m) => typeof m !== "string");
  if (at >= 0 && draw) draw.place(items, at);
  if (items.length) post(items);
}

function push(item) {
  batch.push(item);
  if (!timer) timer = setTimeout(flush, BATCH_MS);
}

// a text event, as the map drawing needs to see it
function watch(text) {
  if (draw) {
    const item = draw.watch(text);
    if (item) push(item);
  } else if (text.startsWith('{"type":"state"')) last.state = text;
  else if (text.startsWith('{"type":"dataset"')) last.dataset = text;
  else if (text.startsWith('{"type":"frame"')) {
    loading ??= import("./mapdraw.js").then((m) => {
      draw = m.createMapDraw(post);
      for (const t of [last.state, last.dataset]) if (t) draw.watch(t);
      last = { state: null, dataset: null };
    });
  }
}

self.onmessage = ({ data }) => {
  if (data.op === "open") {
    const sock = new WebSocket(data.url);
    ws = sock;
    draw?.reset();
    last = { state: null, dataset: null };
    sock.binaryType = "arraybuffer";
    sock.onopen = () => self.postMessage({ op: "open" });
    sock.onmessage = (e) => {
      if (typeof e.data === "string") {
        push(e.data);
        watch(e.data); // this link always asks for maps=page (socket.js)
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
