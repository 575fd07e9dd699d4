// Wires the store, the socket, the controls and the views, and runs the one drawing loop:
// events only mark the store dirty; views draw on animation frames (static/schedule.js says which).

import { createControls } from "./controls.js";
import { lazyView, panelStyles, replay } from "./lazy.js";
import { el } from "./util.js";
import { tabSession } from "./link.js";
import { createRoomGate } from "./roomgate.js";
import { createSchedule } from "./schedule.js";
import { createSocket } from "./socket.js";
import { createStore, showsExamples } from "./store.js";
import { createChart } from "./views/chart.js";
import { createClasses } from "./views/classes.js";
import { drawResting, explaining } from "./views/intro.js";
import { createHeatmap } from "./views/heatmap.js";
import { createLog } from "./views/log.js";
import { createNetwork } from "./views/network.js";
import { createStatus } from "./views/status.js";

const $ = (sel) => document.querySelector(sel);
const FRAME_TIMES = 600;
// events that answer a command (an `outputs` or `epoch` may follow an earlier one)
const ANSWERS = new Set(["state", "error", "batch", "forward", "output_error", "backward", "update", "frame", "gradcheck", "slice", "progress"]);

const store = createStore();
let controls = null;
let room = null;
let claimed = false;
let lesson = null; // the lesson module's view, once loaded (static/views/lesson.js)
let linkAt = -Infinity; // when the link last followed the step
// events a lesson acts on, kept until its module has loaded
const LESSON_EVENTS = new Set(["question", "reveal", "poll"]);
const lessonEvents = [];
const socket = createSocket({
  room: document.body.dataset.room || null,
  session: tabSession(), // a reload reattaches to the tab's session
  fallback: () => controls.link.fallback(),
  onEvent(ev, raw) {
    if (store.waiting && ANSWERS.has(ev.type)) {
      store.waiting = null; // the server answered
      store.touch("status");
    }
    if (ev.type === "state") controls.link.beforeState(ev);
    store.apply(ev, raw);
    if (lesson) lesson.onEvent(ev);
    else if (LESSON_EVENTS.has(ev.type)) {
      lessonEvents.push(ev);
      loadLesson();
    }
    if (ev.type === "error" && ev.code === "unknown_session") controls.link.onLost();
    // the link's step=N; playing, every 5 s (a history rewrite costs ms): a pause syncs it
    if (ev.type === "update" && ev.layer === store.L() && !(store.server?.playing && performance.now() - linkAt < 5000)) {
      linkAt = performance.now();
      controls.link.sync();
    }
    if (ev.type === "state") {
      controls.onState(ev);
      lesson?.start();
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
room = createRoomGate(store, socket);
controls = createControls(store, socket, document.body.dataset.defaultPreset || "circle", room);
controls.initView();
const { actions } = controls;
// Lessons load when one is asked for: by the URL, by opening the picker, or by a room's question.
let lessonLoading = null;
function loadLesson() {
  lessonLoading ??= import("./views/lesson.js").then((m) => {
    el("link", { rel: "stylesheet", href: document.body.dataset.lessonCss }, document.head);
    lesson = m.createLesson(store, actions);
    if (store.server) lesson.start();
    for (const ev of lessonEvents.splice(0)) lesson.onEvent(ev);
    store.touch("lesson");
  });
  return lessonLoading;
}
// the URL's lesson is read at the first state, before anything rewrites the URL: load it first
const urlLesson = new URLSearchParams(location.search).has("lesson") ? loadLesson() : null;
$("[data-lesson-picker]").addEventListener("toggle", loadLesson);
const note = (text) => {
  store.notice = { kind: "info", text, at: performance.now() };
  store.touch("status");
};
const send = (cmd) => {
  if (room.allows(cmd) && !socket.send(cmd)) note("Not connected: the command was not sent.");
};
// the weights' export and import: their module loads at the first use
const modelsRoot = $("[data-models]");
let models = false;
let modelsLoading = null;
const loadModels = () =>
  (modelsLoading ??= import("./models.js").then((m) => {
    m.createModels(modelsRoot, store, note);
    models = true;
  }));
replay(modelsRoot, loadModels, () => models);

// a view made by create(root, store, ...args), from a module loaded when the view is first seen
// once the page has its first state (or as `opts` say: static/lazy.js); `styles`: with the
// panels' styles (css/panels.css)
const lazy = (sel, module, args = [], { styles = true, ...opts } = {}) => {
  const root = $(sel);
  const ready = () => !!store.server;
  const load = () => Promise.all([module(), styles && panelStyles()]).then(([create]) => create(root, store, ...args));
  return lazyView(root, load, { ready, ...opts });
};
// the compare panel loads when its form is first used, or when a run b exists; until then its
// form stands as the page drew it, with the step run b would start from
const branchFrom = $("[data-branch-from]");
const compareIdle = () => {
  if (store.server && !branchFrom.matches(":focus")) branchFrom.placeholder = store.server.step;
};

const views = [
  createLog($("[data-log]"), store),
  createStatus(store, actions),
  room.view,
  // explain first: following the phase, it moves the selection the network outlines
  lazy("[data-explain]", () => import("./views/explain.js").then((m) => m.createExplain), [actions], {
    styles: false, // the equations' styles come with the equations
    sight: false,
    when: () => explaining(store),
    idle: () => drawResting($("[data-explain-body]"), store),
    topics: ["all", "phase", "explain", "select", "follow", "params", "view"],
  }),
  createNetwork($("[data-net]"), store, actions),
  createHeatmap($("[data-heatmap]"), store, actions),
  createClasses($("[data-classes]"), store),
  lazy("[data-examples]", () => import("./views/examples.js").then((m) => m.createExamples), [], {
    styles: false,
    sight: false,
    when: () => showsExamples(store.dataset),
    topics: ["all", "data"],
    watch: $("[data-examples]").closest("section"),
  }),
  createChart($("[data-chart]"), store),
  lazy("[data-gradnorm]", () => import("./views/gradnorm.js").then((m) => m.createGradnorm), [], { styles: false }),
  // after explain and the network: it copies the one's equations and marks the other's parts
  { topics: ["all", "net", "params", "phase", "select", "explain", "lesson"], draw: (now, seen) => !!lesson?.view.draw(now, seen) },
  // panels below the fold or seldom used: their modules load when first seen or used
  lazy("[data-compare-root]", () => import("./views/compare.js").then((m) => m.createCompare), [send, note], {
    sight: false,
    when: () => !!store.branch,
    idle: compareIdle,
    topics: ["all", "branch", "maps"],
  }),
  lazy("[data-breakpoints]", () => import("./views/breakpoints.js").then((m) => m.createBreakpoints), [actions]),
  lazy("[data-health]", () => import("./views/health.js").then((m) => m.createHealth), [actions]),
  lazy("[data-graph]", () => import("./views/graph.js").then((m) => m.createGraph), [actions]),
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
    }, Math.ceil(at - now)); // whole ms: rounded down, it came too early
  }
}

const schedule = createSchedule(store, views, wake);
const touch = store.touch;
// once a task, not at each of a tick's many touches
let waking = false;
store.touch = (...topics) => {
  touch(...topics);
  if (waking) return;
  waking = true;
  queueMicrotask(() => {
    waking = false;
    wake();
  });
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
// the first connection already asks for the link's scenario: its first state is never another's
Promise.all([controls.link.first(), urlLesson]).then(() => socket.open());
wake();
