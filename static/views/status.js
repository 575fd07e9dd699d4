// The header and transport state: connection, the phase just shown, counters, the divergence
// banner, error notices, play buttons and the timeline.

import { phaseName } from "../store.js";
import { attr, el, fmt, setText } from "../util.js";

const $ = (sel) => document.querySelector(sel);
// set only if it changed: the same `hidden` set again is a mutation
const put = (e, k, v) => e[k] !== v && (e[k] = v);

// A pause shows before its answer (its state, or another command, ends that; 2 s at most).
export const pausing = (store) => !!store.pausing && performance.now() - store.pausing < 2000;

// The Animate and Train buttons as for `mode` playing (null: paused).
export function showPlaying(mode) {
  for (const m of ["animate", "train"]) {
    const b = $(`[data-action="${m}"]`);
    attr(b, "aria-pressed", mode === m);
    setText(b.querySelector("span"), mode === m ? "Pause" : m[0].toUpperCase() + m.slice(1));
  }
}

// The title, its architecture part "(2-4-2-1 tanh)" following the layers in use.
export function titleOf(d) {
  const t = d.title || d.name;
  const hidden = [...new Set(d.activations.slice(0, -1))].map((a) => a.replace("_", " ")).join("/");
  // only the "(2-4-2-1 tanh)" part: the layer sizes, and the hidden activation where it is named
  return t.replace(/\((\d+(?:-\d+)+)([^)]*)\)/, (_, sizes, rest) => {
    const acts = hidden ? rest.replace(/\b(tanh|sigmoid|relu|leaky relu|linear)\b/i, hidden) : rest;
    return `(${d.layers.join("-")}${acts})`;
  });
}

export function createStatus(store, actions) {
  const phase = $("[data-phase]");
  const conn = $("[data-conn]");
  const banner = $("[data-banner]");
  const notice = $("[data-notice]");
  const step = $("[data-step]");
  const epoch = $("[data-epoch]");
  const lossNow = $("[data-loss-now]");
  const trainLoss = $("[data-train-loss]");
  const title = $("[data-title]");
  const hint = $("[data-next-hint]");
  const timeline = $("[data-timeline]");
  const timelineOut = $("[data-timeline-out]");
  const example = $("[data-example]");
  const set = setText;
  // the pause banner: why, and a way back to the step before it happened
  const why = el("span", {}, banner);
  const back = el("button", { type: "button", "data-seek-before": "" }, banner);
  back.addEventListener("click", () => actions.send({ type: "seek", step: +back.dataset.seekBefore }));
  let reasonKey = "";

  // A new pause reason selects its culprit (a unit, else a layer), so the network outlines it
  // and the explanation opens on it.
  function culprit(r) {
    const key = JSON.stringify(r);
    if (key === reasonKey) return;
    reasonKey = key;
    if (!r || r.layer === null || r.layer === undefined || r.layer > store.layers.length - 1) return;
    const sel = r.unit === null ? { kind: "layer", l: r.layer, j: 0 } : { kind: "neuron", l: r.layer, j: r.unit };
    actions.select(sel);
  }

  function draw(now) {
    const c = store.conn;
    const label = {
      open: "connected",
      connecting: "connecting…",
      closed: `offline · retrying (${c.retries})`,
      full: `${store.notice?.code === "room_full" ? "The room" : "The server"} is full · retrying, less often each time (${c.retries})`,
    }[c.status];
    const w = store.waiting;
    set(conn, w && c.status === "open" ? `working: ${w.type.replace("_", " ")}…` : label);
    attr(conn, "data-status", c.status);
    const n = store.notice;
    put(notice, "hidden", !n || now - n.at > 6000);
    if (n) set(notice, n.text);
    const sv = store.server;
    set(phase, phaseName(store.shown));
    if (!sv) return !notice.hidden; // e.g. refused by a full server before any state
    set(title, titleOf(sv.scenario));
    set(step, store.cur && !store.cur.update[store.layers.length - 1] ? `${sv.step} → ${store.cur.step}` : sv.step);
    set(epoch, sv.epoch);
    const lastRow = store.curve[store.curve.length - 1];
    // two numbers, named apart: the batch cost C of this step, and the loss over the whole set
    set(lossNow, store.cur?.outErr ? fmt(store.cur.outErr.loss, store.view.digits) : "—");
    set(trainLoss, lastRow && lastRow[2] !== null ? fmt(lastRow[2], store.view.digits) : "—");
    const np = store.cur ? sv.phase : { event: "batch" };
    set(hint, np.event === "update" ? `next: Update · layer ${np.layer}` : `next: ${phaseName(np)}`);
    const r = sv.paused_reason;
    put(banner, "hidden", !r);
    attr(banner, "data-kind", r?.kind ?? "");
    if (r) {
      set(why, r.message);
      const to = (r.step ?? sv.step) - 1;
      back.hidden = !(to >= sv.history.first && to <= sv.history.last) || to === sv.step;
      back.dataset.seekBefore = to;
      set(back, `Go to step ${to}, the one before`);
    }
    culprit(r);
    showPlaying(pausing(store) ? null : sv.playing);
    const h = sv.history;
    if (timeline.min !== String(h.first)) timeline.min = h.first;
    if (timeline.max !== String(h.last)) timeline.max = h.last;
    if (document.activeElement !== timeline && timeline.value !== String(sv.step)) timeline.value = sv.step;
    set(timelineOut, `${sv.step} / ${h.last}`);
    const m = store.cur?.batch?.x.length ?? 0;
    set(example, m ? `${store.sel() + 1} / ${m}` : "—");
    return !notice.hidden;
  }
  // the notice fades on its own, so keep drawing while one is up
  // 4 Hz while training, 10 while animating; Pause and Play show at once (playing is then false)
  const every = () => (store.server?.playing === "train" ? 250 : 100);
  return { topics: ["all", "status", "phase", "params", "curve", "view"], draw, every };
}
