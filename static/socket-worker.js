// The websocket off the main thread: messages to the page in order, batched, newest maps only;
// train frames and an animation's phases once a tick (schedule.js), the rest within BATCH_MS.
// With maps=page, ./mapdraw.js draws train frames' maps.

import { decodeMaps } from "./wire.js";

const BATCH_MS = 8;
const CLOCK = 100; // ms, as schedule.js
const LEAD = 10; // ms before the tick, plus the maps' drawing
const FRAME = '{"type":"frame"';
const HEALTH = '{"type":"health"';
const STATE = '{"type":"state"';
const PHASE = /^\{"type":"(batch|forward|output_error|backward|update|epoch|outputs|health)"/;
let ws = null;
let batch = [];
let timer = 0;
let timerAt = Infinity;
let streaming = false; // training: the last text was a frame, or health after one
let animating = false; // as the last state said
let draw = null; // the map drawing, once loaded
let loading = null;
let last = { state: null, dataset: null }; // what it must see first, kept until it is loaded

function post(items) {
  const bufs = items.filter((m) => typeof m !== "string").map((m) => m.buf);
  self.postMessage({ op: "batch", items }, bufs);
}

function flush() {
  timer = 0;
  timerAt = Infinity;
  if (!batch.length) return;
  const newest = batch.findLastIndex((m) => typeof m !== "string");
  const items = batch.filter((m, k) => typeof m === "string" || k === newest);
  batch = [];
  const at = items.findIndex((m) => typeof m !== "string");
  if (at >= 0 && draw) draw.place(items, at);
  if (items.length) post(items);
}

function untilTick() {
  const lead = LEAD + Math.min(50, draw?.cost() ?? 0);
  const t = performance.timeOrigin + performance.now();
  return Math.ceil((t + lead) / CLOCK) * CLOCK - lead - t;
}

function push(item, routine = false) {
  batch.push(item);
  const wait = routine ? untilTick() : BATCH_MS;
  if (timer && timerAt <= performance.now() + wait) return;
  clearTimeout(timer);
  timerAt = performance.now() + wait;
  timer = setTimeout(flush, wait);
}

// a text event, as the map drawing needs to see it
function watch(text) {
  if (draw) {
    const item = draw.watch(text);
    if (item) push(item, streaming);
  } else if (text.startsWith('{"type":"state"')) last.state = text;
  else if (text.startsWith('{"type":"dataset"')) last.dataset = text;
  else if (text.startsWith(FRAME)) {
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
        if (e.data.startsWith(STATE)) animating = e.data.includes('"playing":"animate"');
        streaming = e.data.startsWith(FRAME) || (streaming && e.data.startsWith(HEALTH));
        push(e.data, streaming || (animating && PHASE.test(e.data)));
        watch(e.data); // this link always asks for maps=page (socket.js)
        return;
      }
      const m = decodeMaps(e.data);
      if (m) push({ ...m, buf: e.data }, streaming || animating);
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
