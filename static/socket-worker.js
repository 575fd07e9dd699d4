// The websocket off the page's main thread: messages go to the page in order, in batches a few ms
// apart, keeping only a batch's newest maps. static/socket.js keeps the reconnecting.

import { decodeMaps } from "./wire.js";

const BATCH_MS = 8; // a frame and its maps, sent back to back, mostly arrive in one batch
let ws = null;
let batch = [];
let timer = 0;

function flush() {
  timer = 0;
  if (!batch.length) return;
  const last = batch.findLastIndex((m) => typeof m !== "string");
  const items = batch.filter((m, k) => typeof m === "string" || k === last);
  batch = [];
  const bufs = last >= 0 ? [items.find((m) => typeof m !== "string").buf] : [];
  self.postMessage({ op: "batch", items }, bufs);
}

function push(item) {
  batch.push(item);
  if (!timer) timer = setTimeout(flush, BATCH_MS);
}

self.onmessage = ({ data }) => {
  if (data.op === "open") {
    const sock = new WebSocket(data.url);
    ws = sock;
    sock.binaryType = "arraybuffer";
    sock.onopen = () => self.postMessage({ op: "open" });
    sock.onmessage = (e) => {
      if (typeof e.data === "string") return push(e.data);
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
