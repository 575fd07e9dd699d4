// The step log: one line per event received, newest last.

import { weightText } from "../names.js";
import { norm } from "../math.js";
import { el, fmt } from "../util.js";

const MAX_LINES = 200;

function vec(v, D) {
  const s = v.slice(0, 4).map((x) => fmt(x, D));
  return `[${s.join(", ")}${v.length > 4 ? ", …" : ""}]`;
}

function describe(ev, store) {
  const D = store.view.digits || 4;
  const ex = store.sel();
  switch (ev.type) {
    case "state":
      return `state · step ${ev.step} · epoch ${ev.epoch}${ev.playing ? ` · playing (${ev.playing})` : ""}`;
    case "dataset":
      return `dataset · ${ev.train.x.length} training${ev.test ? `, ${ev.test.x.length} test` : ""} examples`;
    case "batch":
      return `step ${ev.step} · batch of ${ev.indices.length}: examples ${vec(ev.indices.map((i) => i + 1), D)}`;
    case "forward":
      return `forward · layer ${ev.layer} · a = ${vec(ev.a[Math.min(ex, ev.a.length - 1)], D)}`;
    case "output_error":
      return `output error · loss ${fmt(ev.loss, D)} · δ = ${vec(ev.delta[Math.min(ex, ev.delta.length - 1)], D)}`;
    case "backward":
      return `backward · layer ${ev.layer} · ‖∂C/∂W‖ = ${fmt(norm(ev.grad_w), D)}`;
    case "update":
      return `update · layer ${ev.layer} · ‖ΔW‖ = ${fmt(norm(ev.dw), D)}`;
    case "epoch":
      return `epoch ${ev.epoch} · train loss ${fmt(ev.train_loss, D)}${ev.test_loss !== null ? ` · test ${fmt(ev.test_loss, D)}` : ""}`;
    case "gradcheck":
      return `gradcheck · max relative error ${fmt(ev.max_rel_error, 2)}`;
    case "slice":
      return `cost slice along ${weightText(ev.layer, ev.to, ev.from)}`;
    case "error":
      return `error (${ev.code}): ${ev.message}`;
  }
  return ev.type;
}

export function createLog(root, store) {
  // its box's start is its end (column-reverse): it keeps to the newest line, or to where a
  // person scrolled back, with no scroll written (a scroll laid the page out, 4 times a second)
  const list = el("ol", { "aria-label": "Step log" }, el("div", { class: "log" }, root));
  let seen = 0;

  function draw() {
    const fresh = store.log.filter((e) => e.seq > seen);
    if (!fresh.length) return false;
    const frag = document.createDocumentFragment();
    const add = fresh.slice(-MAX_LINES);
    for (const { ev } of add) el("li", { class: `ev-${ev.type}` }, frag, describe(ev, store));
    seen = fresh[fresh.length - 1].seq;
    let extra = list.childElementCount + add.length - MAX_LINES;
    while (extra-- > 0 && list.firstElementChild) list.firstElementChild.remove();
    list.appendChild(frag);
    return false;
  }
  // four times a second while playing: lines at 30 a second cannot be read as they come
  return { topics: ["log"], draw, every: 250, watch: root };
}
