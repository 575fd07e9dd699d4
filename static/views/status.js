// The header and transport state: connection, the phase just shown, counters, the divergence
// banner, error notices, play buttons and the timeline.

import { phaseName } from "../store.js";
import { attr, fmt } from "../util.js";

const $ = (sel) => document.querySelector(sel);

export function createStatus(store) {
  const phase = $("[data-phase]");
  const conn = $("[data-conn]");
  const banner = $("[data-banner]");
  const notice = $("[data-notice]");
  const step = $("[data-step]");
  const epoch = $("[data-epoch]");
  const lossNow = $("[data-loss-now]");
  const title = $("[data-title]");
  const hint = $("[data-next-hint]");
  const timeline = $("[data-timeline]");
  const timelineOut = $("[data-timeline-out]");
  const example = $("[data-example]");
  const animate = $('[data-action="animate"]');
  const train = $('[data-action="train"]');
  const set = (e, v) => {
    if (e.textContent !== String(v)) e.textContent = v;
  };

  function draw(now) {
    const c = store.conn;
    const label = {
      open: "connected",
      connecting: "connecting…",
      closed: `offline · retrying (${c.retries})`,
      full: `${store.notice?.code === "room_full" ? "The room" : "The server"} is full · retrying, less often each time (${c.retries})`,
    }[c.status];
    set(conn, label);
    conn.dataset.status = c.status;
    const n = store.notice;
    notice.hidden = !n || now - n.at > 6000;
    if (n) set(notice, n.text);
    const sv = store.server;
    set(phase, phaseName(store.shown));
    if (!sv) return !notice.hidden; // e.g. refused by a full server before any state
    set(title, sv.scenario.title || sv.scenario.name);
    set(step, store.cur && !store.cur.update[store.layers.length - 1] ? `${sv.step} → ${store.cur.step}` : sv.step);
    set(epoch, sv.epoch);
    const lastRow = store.curve[store.curve.length - 1];
    set(lossNow, store.cur?.outErr ? fmt(store.cur.outErr.loss, store.view.digits) : lastRow ? fmt(lastRow[2], store.view.digits) : "—");
    const np = store.cur ? sv.phase : { event: "batch" };
    set(hint, np.event === "update" ? `next: Update · layer ${np.layer}` : `next: ${phaseName(np)}`);
    banner.hidden = !sv.paused_reason;
    if (sv.paused_reason) set(banner, sv.paused_reason);
    attr(animate, "aria-pressed", sv.playing === "animate");
    attr(train, "aria-pressed", sv.playing === "train");
    set(animate.querySelector("span"), sv.playing === "animate" ? "Pause" : "Animate");
    set(train.querySelector("span"), sv.playing === "train" ? "Pause" : "Train");
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
  // counters ten times a second while playing; Pause and Play show at once (playing is then false)
  return { topics: ["all", "status", "phase", "params", "curve", "view"], draw, every: 100 };
}
