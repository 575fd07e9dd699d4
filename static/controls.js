// Everything the user does: transport buttons and their keys, the settings form (built from the
// one settings table), the architecture editor, presets, points, weight edits, URL state.

import { ACTIVATIONS, SETTINGS, VIEW, edit, fromQuery, liveCommand, read } from "./settings.js";
import { createLink } from "./link.js";
import { createUploads } from "./drop.js";
import { DEFAULT_PACE, into, pace, paceLabel, playCommand } from "./pace.js";
import { clamp, el } from "./util.js";
import { pausing, showPlaying } from "./views/status.js";

const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => [...document.querySelectorAll(sel)];
const GROUPS = {
  data: ["data", "n", "noise", "split", "seed", "shuffle"],
  model: ["init", "scale", "loss"],
  training: ["opt", "lr", "mom", "beta1", "beta2", "eps", "mem", "batch", "reg", "rate"],
};

export function createControls(store, socket, defaultPreset, room) {
  const send = (cmd) => {
    if (!room.allows(cmd)) return;
    if (!socket.send(cmd)) return note("Not connected: the command was not sent.");
    // shown at once, until the server's answer: the page never sits still while it waits
    store.waiting = { type: cmd.type, at: performance.now() };
    store.pausing = cmd.type === "pause" ? performance.now() : 0; // views/status.js
    store.touch("status");
    return true;
  };
  // shown in the click's own task
  const pause = () => {
    if (send({ type: "pause" })) showPlaying(null);
  };
  const note = (text) => {
    store.notice = { kind: "info", text, at: performance.now() };
    store.touch("status");
  };
  const doc = () => store.server.scenario;
  const L = () => store.layers.length - 1;

  // --- view settings
  let presenterCss = null;
  function setView(key, value) {
    store.view[key] = value;
    document.documentElement.classList.toggle("presenter", !!store.view.presenter);
    // its styles load when it is first on
    if (store.view.presenter) presenterCss ??= el("link", { rel: "stylesheet", href: document.body.dataset.presenterCss }, document.head);
    $('[data-action="presenter"]').setAttribute("aria-pressed", !!store.view.presenter);
    $$("[data-view]").forEach((c) => (c.checked = !!store.view[c.dataset.view]));
    const sp = $("[data-speed]");
    const p = pace(store.view.pace ?? DEFAULT_PACE);
    store.view.speed = p.mode === "animate" ? p.rate : 30; // phases/s, for the animations' length
    if (document.activeElement !== sp) sp.value = store.view.pace;
    $("[data-speed-out]").textContent = paceLabel(p);
    $("[data-digits]").value = String(store.view.digits);
    store.touch("view", "all");
    link.sync();
  }

  function animMs() {
    return store.server?.playing === "animate" ? clamp(850 / store.view.speed, 50, 600) : 550;
  }

  // --- commands
  const playing = () => (pausing(store) ? null : store.server?.playing); // as shown
  const last = {}; // the last position of the speed control in each mode's part of its range
  const play = (mode) => {
    if (playing() === mode) return pause();
    const pos = into(store.view.pace, mode, last[mode]);
    if (pos !== store.view.pace) setView("pace", pos);
    send(playCommand(pace(pos)));
  };
  const cmds = {
    next: () => send({ type: "next" }),
    step: () => send({ type: "step" }),
    epoch: () => send({ type: "epoch" }),
    reset: () => {
      link.changing("Reset to step 0");
      send({ type: "reset" });
    },
    undo: () => link.undo(),
    back: () => {
      // back one phase: to the start of the step (or of the one before), then forward to the phase before
      const s = store.server;
      if (!s) return;
      const mid = store.cur && !store.cur.update[L()] && store.shown && store.shown.event !== "frame";
      const to = mid ? s.step : s.step - 1;
      if (to < s.history.first) return note("That step is no longer in the history.");
      const phases = mid ? phaseIndex(store.shown, L()) - 1 : 3 * L() + 1;
      send({ type: "seek", step: to });
      for (let k = 0; k < phases; k++) send({ type: "next" });
    },
    toggle: () => (playing() ? pause() : send(playCommand(pace(store.view.pace)))),
    animate: () => play("animate"),
    train: () => play("train"),
    presenter: () => setView("presenter", !store.view.presenter),
    help: () => $("[data-help]").showModal(),
    numbers: () => setView("numbers", !store.view.numbers),
    gradcheck: () => send({ type: "gradcheck" }),
    follow: () => {
      store.pinned = false;
      store.touch("select");
    },
    "prev-example": () => pick(-1),
    "next-example": () => pick(1),
    // the export module loads at its first use
    "export-json": () => import("./export.js").then((m) => m.exportScenario(store)),
    "export-trace": () => import("./export.js").then((m) => m.exportTrace(store)),
    "export-svg": () => import("./export.js").then((m) => m.exportSVG($("[data-net]"))),
    "export-png": () => import("./export.js").then((m) => m.exportPNG($("[data-net]"))),
    "import-json": () => $("[data-import]").click(),
    "import-csv": () => $("[data-import-csv]").click(),
    "copy-link": () => import("./export.js").then((m) => m.copyLink(note)),
    regenerate: () => load(edit(doc(), "seed", (read(doc(), SETTINGS.find((s) => s.key === "seed")) + 1) >>> 0)),
    ...room.actions,
  };

  // where phase `p` falls in a step of L weight layers, from 1 (batch) to 3L + 2 (the last update)
  function phaseIndex(p, L) {
    const l = p.layer;
    return { batch: 1, forward: 1 + l, output_error: L + 2, backward: 2 * L + 3 - l, update: 2 * L + 2 + l }[p.event] ?? 0;
  }

  function pick(d) {
    const m = store.cur?.batch?.x.length;
    if (!m) return note("The highlighted example is picked within a step's batch.");
    send({ type: "select", example: (store.sel() + d + m) % m });
  }

  // a large scenario (an imported file, a CSV dataset) goes by upload and `load` by ref
  const uploads = createUploads(store, send, note, $("[data-import-csv]"), $("[data-heatmap]").closest("section"));
  const upload = (scenario) => uploads.load(scenario);
  const link = createLink(store, { defaultPreset, note, send, load: upload });
  // the user opens another scenario: a new entry in the browser's history, and an undo
  const load = (scenario, what = "A new run started") => {
    link.changing(what);
    return upload(scenario);
  };

  // --- keys
  const KEYS = {
    ArrowRight: (e) => (e.shiftKey ? cmds.step() : cmds.next()),
    ArrowLeft: () => cmds.back(),
    e: cmds.epoch,
    E: cmds.epoch,
    " ": cmds.toggle,
    r: cmds.reset,
    R: cmds.reset,
    p: cmds.presenter,
    P: cmds.presenter,
    "?": cmds.help,
    n: cmds.numbers,
    N: cmds.numbers,
    "[": () => pick(-1),
    "]": () => pick(1),
  };

  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "z" && !e.target.matches?.("input, textarea, [contenteditable]")) {
      e.preventDefault();
      return cmds.undo();
    }
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    // global keys, whatever has focus, except while typing in a text field (or choosing in a list)
    const t = e.target;
    const typing = t.matches?.("input:not([type=range]):not([type=checkbox]):not([type=radio]), textarea, [contenteditable]");
    if (typing || $("[data-help]").open) return;
    const arrow = e.key === "ArrowRight" || e.key === "ArrowLeft";
    if (t.matches?.("select") && (arrow || e.key === " " || e.key.startsWith("Arrow"))) return;
    if (!arrow && t.matches?.("input[type=range]") && (e.key === "ArrowUp" || e.key === "ArrowDown")) return;
    const s = store.selection;
    if (s && store.pinned && (s.kind === "weight" || s.kind === "bias") && /^[0-9.-]$/.test(e.key)) {
      e.preventDefault();
      // shown now, not on the next frame: a hidden input cannot take focus, and keys come fast
      $("[data-edit]").hidden = false;
      const input = $("#edit-value");
      input.value = e.key;
      input.focus();
      return;
    }
    const fn = KEYS[e.key];
    if (!fn) return;
    e.preventDefault();
    fn(e);
  });

  document.addEventListener("click", (e) => {
    const b = e.target.closest("[data-action]");
    if (b && cmds[b.dataset.action]) cmds[b.dataset.action]();
  });

  $$("[data-view]").forEach((c) => c.addEventListener("change", () => setView(c.dataset.view, c.checked)));
  $("[data-speed]").addEventListener("input", (e) => {
    const pos = +e.target.value;
    last[pace(pos).mode] = pos;
    setView("pace", pos);
    if (playing()) send(playCommand(pace(pos))); // the new pace, in whichever mode it falls
  });
  const digits = $("[data-digits]");
  for (let d = 2; d <= 10; d++) el("option", { value: d }, digits, String(d));
  digits.addEventListener("change", () => setView("digits", Number(digits.value)));
  $("[data-timeline]").addEventListener("change", (e) => send({ type: "seek", step: +e.target.value }));
  $("[data-import]").addEventListener("change", async (e) => {
    const f = e.target.files[0];
    e.target.value = "";
    if (!f) return;
    try {
      load(JSON.parse(await f.text()));
    } catch (err) {
      note(`Not a scenario: ${err.message}`);
    }
  });
  $("[data-edit]").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("#edit-value");
    const v = Number(input.value.replace("−", "-"));
    const s = store.selection;
    if (!Number.isFinite(v) || !s) return note("Type a number, then Enter.");
    link.edited();
    if (s.kind === "weight") send({ type: "set_weight", layer: s.l, to: s.j, from: s.i, value: v });
    else send({ type: "set_bias", layer: s.l, unit: s.j, value: v });
    input.value = "";
    input.blur();
  });
  $("#edit-value").addEventListener("keydown", (e) => {
    if (e.key === "Escape") e.target.blur();
  });

  // --- settings form
  const fields = new Map();
  for (const [group, keys] of Object.entries(GROUPS)) {
    const box = $(`[data-settings-group="${group}"]`);
    for (const key of keys) {
      const s = SETTINGS.find((x) => x.key === key);
      const id = `set-${key}`;
      const wrap = el("div", { class: "field" }, box);
      el("label", { for: id }, wrap, s.label);
      let input;
      if (s.type === "enum") {
        input = el("select", { id }, wrap);
        for (const v of s.values) el("option", { value: v }, input, v.replaceAll("_", " "));
      } else if (s.type === "bool") {
        input = el("input", { id, type: "checkbox" }, wrap);
      } else {
        input = el("input", { id, type: "number", step: s.step ?? 1, min: s.min, max: s.max }, wrap);
      }
      input.addEventListener("change", () => change(s, input));
      // Enter applies the value and gives the keys back to the page
      input.addEventListener("keydown", (e) => e.key === "Enter" && input.blur());
      fields.set(key, { s, input, wrap });
    }
  }

  function change(s, input) {
    let v = s.type === "bool" ? input.checked : s.type === "enum" ? input.value : Number(input.value);
    if (s.type !== "enum" && s.type !== "bool" && !Number.isFinite(v)) return note(`${s.label}: type a number.`);
    if (s.type === "int") v = Math.round(v);
    let d = edit(doc(), s.key, v);
    if (s.key === "reg" && v !== "none" && !(d.regularization.rate > 0)) d = edit(d, "rate", 0.001);
    if (s.live) {
      const cmd = liveCommand(d, s);
      if (s.key === "opt" && v === "lbfgs") cmd.batch_size = d.batch_size;
      send(cmd);
    } else {
      load(d);
    }
  }

  function refreshForm() {
    const d = doc();
    for (const { s, input, wrap } of fields.values()) {
      wrap.hidden = !!s.when && !s.when(d);
      if (document.activeElement === input) continue;
      const v = read(d, s);
      if (s.type === "bool") input.checked = !!v;
      else input.value = v ?? "";
    }
    const custom = !("generator" in d.data);
    $("[data-custom-data]").hidden = !custom;
    const n = d.data.omitted ? d.data.train : d.data.train?.x.length;
    if (custom) $("[data-custom-data]").textContent = `Given data: ${n} training examples.`;
    drawArch(d);
    $$("[data-preset]").forEach((b) => b.setAttribute("aria-pressed", b.dataset.preset === d.name));
  }

  // --- architecture editor
  const arch = $("[data-arch]");
  function drawArch(d) {
    arch.replaceChildren();
    const n = d.layers;
    n.forEach((k, l) => {
      const row = el("div", { class: "arch-row" }, arch);
      const name = l === 0 ? "Input" : l === n.length - 1 ? "Output" : `Hidden ${l}`;
      el("span", { class: "arch-name" }, row, name);
      const hidden = l > 0 && l < n.length - 1;
      if (hidden) {
        el("button", { type: "button", "aria-label": `Remove a neuron from ${name}`, "data-arch": `${l}:-1` }, row, "−");
      }
      el("span", { class: "arch-count", "aria-label": `${name} neurons` }, row, String(k));
      if (hidden) {
        el("button", { type: "button", "aria-label": `Add a neuron to ${name}`, "data-arch": `${l}:1` }, row, "+");
      }
      if (l > 0) {
        const sel = el("select", { "aria-label": `${name} activation`, "data-act": l }, row);
        const choices = l === n.length - 1 ? ACTIVATIONS : ACTIVATIONS.filter((a) => a !== "softmax");
        for (const a of choices) el("option", { value: a }, sel, a.replace("_", " "));
        sel.value = d.activations[l - 1];
      }
    });
    const bar = el("div", { class: "arch-row" }, arch);
    el("button", { type: "button", "data-arch": "add" }, bar, "+ hidden layer");
    el("button", { type: "button", "data-arch": "remove" }, bar, "− hidden layer");
  }

  // its buttons and menus: ./archedit.js, loaded at the first use
  const archEvent = (e) => import("./archedit.js").then((m) => m.archEvent(e, doc, load, note));
  arch.addEventListener("click", archEvent);
  arch.addEventListener("change", archEvent);

  // --- presets
  $$("[data-preset]").forEach((b) => {
    b.addEventListener("click", () => {
      link.changing(`Opened ${b.textContent.trim()}`);
      send({ type: "load", preset: b.dataset.preset });
    });
  });

  // --- points on the plane: changed in place, see points.js (loaded at the first click)
  let points = null;
  const withPoints = (fn) => (points ??= import("./points.js").then((m) => m.createPoints(store, { send, note, link }))).then(fn);

  // --- URL: see link.js
  function onState() {
    refreshForm();
    link.onState(store.server);
  }

  window.addEventListener("popstate", async () => {
    const view = await link.popstate();
    if (view) for (const s of VIEW) store.view[s.key] = view[s.key];
    setView("presenter", store.view.presenter);
  });

  function initView() {
    const { view } = fromQuery(location.search, { layers: [], activations: [], data: {} });
    for (const s of VIEW) store.view[s.key] = view[s.key];
    setView("presenter", store.view.presenter);
  }

  // --- actions for the views
  const actions = {
    send,
    addPoint: (x, shift) => withPoints((p) => p.add(x, shift)),
    removePoint: (i) => withPoints((p) => p.remove(i)),
    note,
    openPreset(name) {
      link.changing(`Opened ${name}`);
      send({ type: "load", preset: name });
    },
    select(t) {
      store.selection = t;
      store.pinned = true;
      store.touch("select", "explain");
    },
  };

  return { actions, onState, initView, animMs, link };
}
