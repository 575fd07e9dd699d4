// Wires the store, the socket, the controls and the views, and runs the one drawing loop:
// events only mark the store dirty; views draw on animation frames.

import { createControls } from "./controls.js";
import { createSocket } from "./socket.js";
import { createStore } from "./store.js";
import { createBreakpoints } from "./views/breakpoints.js";
import { createChart } from "./views/chart.js";
import { createExamples } from "./views/examples.js";
import { createExplain } from "./views/explain.js";
import { createGradnorm } from "./views/gradnorm.js";
import { createGraph } from "./views/graph.js";
import { createHealth } from "./views/health.js";
import { createHeatmap } from "./views/heatmap.js";
import { createLog } from "./views/log.js";
import { createNetwork } from "./views/network.js";
import { createRoom } from "./views/room.js";
import { createStatus } from "./views/status.js";

const $ = (sel) => document.querySelector(sel);
const FRAME_TIMES = 600;

const store = createStore();
let controls = null;
let room = null;
let claimed = false;
const socket = createSocket({
  room: document.body.dataset.room || null,
  onEvent(ev, raw) {
    store.apply(ev, raw);
    if (ev.type === "state") {
      controls.onState();
      if (!claimed) room.claimIfPresenter();
      claimed = true;
    }
  },
  onMaps(m) {
    store.applyMaps(m);
  },
  onStatus(status, retries) {
    if (status === "open") claimed = false;
    store.conn.status = status;
    store.conn.retries = retries;
    store.touch("status");
  },
});
room = createRoom(store, socket);
controls = createControls(store, socket, document.body.dataset.defaultPreset || "circle", room);
controls.initView();
const { actions } = controls;

const views = [
  createStatus(store, actions),
  room.view,
  // explain first: following the phase, it moves the selection the network outlines
  createExplain($("[data-explain]"), store, actions),
  createNetwork($("[data-net]"), store, actions),
  createHeatmap($("[data-heatmap]"), store, actions),
  createExamples($("[data-examples]"), store),
  createChart($("[data-chart]"), store),
  createGradnorm($("[data-gradnorm]"), store),
  createLog($("[data-log]"), store),
  createBreakpoints($("[data-breakpoints]"), store, actions),
  createHealth($("[data-health]"), store, actions),
  createGraph($("[data-graph]"), store, actions),
];

// rAF timestamps, oldest first, so a benchmark can read the page's frame interval
const frameTimes = [];

function frame(now) {
  frameTimes.push(now);
  if (frameTimes.length > FRAME_TIMES) frameTimes.splice(0, frameTimes.length - FRAME_TIMES);
  store.view.animMs = controls.animMs();
  if (store.dirty.size || views.some((v) => v.animating)) {
    for (const v of views) {
      if (v.animating || v.topics.some((t) => store.dirty.has(t))) v.animating = v.draw(now);
    }
    store.dirty.clear();
    if (store.weights.length && !performance.getEntriesByName("deltaflow:first-render").length) {
      performance.mark("deltaflow:first-render");
    }
  }
  requestAnimationFrame(frame);
}

window.deltaflow = { store, socket, actions, frameTimes };
socket.open();
requestAnimationFrame(frame);
