// Wires the store, the socket, the controls and the views, and runs the one drawing loop:
// events only mark the store dirty; views draw on animation frames (static/schedule.js says which).

import { createControls } from "./controls.js";
import { createSchedule } from "./schedule.js";
import { createSocket } from "./socket.js";
import { createStore } from "./store.js";
import { createChart } from "./views/chart.js";
import { createExamples } from "./views/examples.js";
import { createExplain } from "./views/explain.js";
import { createGradnorm } from "./views/gradnorm.js";
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
  createStatus(store),
  room.view,
  // explain first: following the phase, it moves the selection the network outlines
  createExplain($("[data-explain]"), store, actions),
  createNetwork($("[data-net]"), store, actions),
  createHeatmap($("[data-heatmap]"), store, actions),
  createExamples($("[data-examples]"), store),
  createChart($("[data-chart]"), store),
  createGradnorm($("[data-gradnorm]"), store),
  createLog($("[data-log]"), store),
];

// rAF timestamps of the frames the page drew, oldest first
const frameTimes = [];
let firstRender = false;
let raf = 0;
let timer = 0;
let timerAt = Infinity;

// An animation frame when a view is due now, else a timer for when the first one will be.
function wake() {
  if (raf) return;
  const now = performance.now();
  const at = schedule.nextDue();
  if (at <= now) {
    clearTimeout(timer);
    timerAt = Infinity;
    raf = requestAnimationFrame(frame);
  } else if (at < timerAt) {
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timerAt = Infinity;
      if (!raf) raf = requestAnimationFrame(frame);
    }, at - now);
  }
}

const schedule = createSchedule(store, views, wake);
const touch = store.touch;
store.touch = (...topics) => {
  touch(...topics);
  wake();
};

function frame(now) {
  raf = 0;
  frameTimes.push(now);
  if (frameTimes.length > FRAME_TIMES) frameTimes.splice(0, frameTimes.length - FRAME_TIMES);
  store.view.animMs = controls.animMs();
  schedule.run(now);
  if (store.weights.length && !firstRender) {
    firstRender = true;
    performance.mark("deltaflow:first-render");
  }
  wake();
}

window.deltaflow = { store, socket, actions, frameTimes, schedule };
socket.open();
wake();
