// Everything the user does: transport buttons and their keys, the settings form (built from the
// one settings table), the architecture editor, presets, points, weight edits, URL state.

import { exportPNG, exportScenario, exportSVG, exportTrace } from "./export.js";
import { ACTIVATIONS, SETTINGS, VIEW, clone, edit, fit, fromQuery, liveCommand, read, toQuery } from "./settings.js";
import { createUploads } from "./upload.js";
import { clamp, el, fmt } from "./util.js";
import { drawThumb } from "./views/thumbs.js";

const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => [...document.querySelectorAll(sel)];
const GROUPS = {
  data: ["data", "n", "noise", "split", "seed", "shuffle"],
  model: ["init", "scale", "loss"],
  training: ["opt", "lr", "mom", "beta1", "beta2", "eps", "mem", "batch", "reg", "rate"],
};
const MAX_UNITS = 64;
const MAX_LAYERS = 10;

export function createControls(store, socket, defaultPreset, room) {
  const presetDocs = new Map();
  let sliceKey = "";
  let started = false;
  const send = (cmd) => {
    if (!room.allows(cmd)) return;
    if (!socket.send(cmd)) note("Not connected: the command was not sent.");
  };
  const note = (text) => {
    store.notice = { kind: "info", text, at: performance.now() };
    store.touch("status");
  };
  const doc = () => store.server.scenario;
  const L = () => store.layers.length - 1;

  async function presetDoc(name) {
    if (!presetDocs.has(name)) {
      // relative to the page, which may sit under a reverse proxy's prefix
      const r = await fetch(`api/presets/${encodeURIComponent(name)}`);
      presetDocs.set(name, r.ok ? await r.json() : null);
    }
    return presetDocs.get(name);
  }

  // --- view settings ---------------------------------------------------------------------
  function setView(key, value) {
    store.view[key] = value;
    document.documentElement.classList.toggle("presenter", !!store.view.presenter);
    $('[data-action="presenter"]').setAttribute("aria-pressed", !!store.view.presenter);
    $$("[data-view]").forEach((c) => (c.checked = !!store.view[c.dataset.view]));
    const sp = $("[data-speed]");
    sp.value = store.view.speed;
    $("[data-speed-out]").textContent = `${store.view.speed}/s`;
    store.touch("view", "all");
    syncURL();
  }

  function animMs() {
    return store.server?.playing === "animate" ? clamp(850 / store.view.speed, 50, 600) : 550;
  }

  // --- commands --------------------------------------------------------------------------
  const playing = () => store.server?.playing;
  const play = (mode) => {
    store.lastMode = mode;
    if (playing() === mode) return send({ type: "pause" });
    send(mode === "animate" ? { type: "play", mode, speed: store.view.speed } : { type: "play", mode, fps: 30 });
  };
  const cmds = {
    next: () => send({ type: "next" }),
    step: () => send({ type: "step" }),
    epoch: () => send({ type: "epoch" }),
    reset: () => send({ type: "reset" }),
    back: () => {
      const s = store.server;
      if (!s) return;
      const mid = store.cur && !store.cur.update[L()];
      const to = mid ? s.step : s.step - 1;
      if (to >= s.history.first) send({ type: "seek", step: to });
      else note("That step is no longer in the history.");
    },
    toggle: () => (playing() ? send({ type: "pause" }) : play(store.lastMode)),
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
    "export-json": () => exportScenario(store),
    "export-trace": () => exportTrace(store),
    "export-svg": () => exportSVG($("[data-net]")),
    "export-png": () => exportPNG($("[data-net]")),
    "import-json": () => $("[data-import]").click(),
    "import-csv": () => $("[data-import-csv]").click(),
    "copy-link": () => copyLink(),
    regenerate: () => load(edit(doc(), "seed", (read(doc(), SETTINGS.find((s) => s.key === "seed")) + 1) >>> 0)),
    ...room.actions,
  };

  function pick(d) {
    const m = store.cur?.batch?.x.length;
    if (!m) return note("The highlighted example is picked within a step's batch.");
    send({ type: "select", example: (store.sel() + d + m) % m });
  }

  // a large scenario (an imported file, a CSV dataset) goes by upload and `load` by ref
  const uploads = createUploads(store, send, note, $("[data-import-csv]"), $("[data-heatmap]").closest("section"));
  const load = (scenario) => uploads.load(scenario);

  async function copyLink() {
    try {
      await navigator.clipboard.writeText(location.href);
      note("Link copied.");
    } catch {
      const i = $("[data-link]");
      i.hidden = false;
      i.value = location.href;
      i.select();
      note("Copy the selected link.");
    }
  }

  // --- keys ------------------------------------------------------------------------------
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
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const t = e.target;
    const typing = t.matches?.("input:not([type=range]):not([type=checkbox]), select, textarea, [contenteditable]");
    if (typing || $("[data-help]").open) return;
    const arrow = e.key === "ArrowRight" || e.key === "ArrowLeft";
    if (e.key === " " && t.matches?.("button, summary, input[type=checkbox]")) return;
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
    setView("speed", +e.target.value);
    if (playing() === "animate") send({ type: "play", mode: "animate", speed: store.view.speed });
  });
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
    if (s.kind === "weight") send({ type: "set_weight", layer: s.l, to: s.j, from: s.i, value: v });
    else send({ type: "set_bias", layer: s.l, unit: s.j, value: v });
    input.value = "";
    input.blur();
  });
  $("#edit-value").addEventListener("keydown", (e) => {
    if (e.key === "Escape") e.target.blur();
  });

  // --- settings form -----------------------------------------------------------------------
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

  // --- architecture editor -------------------------------------------------------------------
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

  arch.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-arch]");
    if (!b) return;
    const d = clone(doc());
    const n = d.layers;
    const a = d.activations;
    const op = b.dataset.arch;
    if (op === "add") {
      if (n.length - 1 >= MAX_LAYERS) return note(`At most ${MAX_LAYERS} weight layers.`);
      n.splice(n.length - 1, 0, n.length > 2 ? n[n.length - 2] : 4);
      a.splice(a.length - 1, 0, a.length > 1 ? a[a.length - 2] : "tanh");
    } else if (op === "remove") {
      if (n.length <= 2) return note("There is no hidden layer to remove.");
      n.splice(n.length - 2, 1);
      a.splice(a.length - 2, 1);
    } else {
      const [l, dn] = op.split(":").map(Number);
      n[l] = clamp(n[l] + dn, 1, MAX_UNITS);
    }
    load(fit(d));
  });
  arch.addEventListener("change", (e) => {
    const l = Number(e.target.dataset.act);
    if (!l) return;
    const d = clone(doc());
    d.activations[l - 1] = e.target.value;
    if (l === d.layers.length - 1) {
      // the output activation decides the loss where the loss needs one
      if (e.target.value === "softmax") d.loss = "cross_entropy";
      else if (d.loss === "cross_entropy" || (d.loss === "binary_cross_entropy" && e.target.value !== "sigmoid")) d.loss = "squared_error";
    }
    load(fit(d));
  });

  // --- presets ----------------------------------------------------------------------------
  $$("[data-preset]").forEach((b) => {
    b.addEventListener("click", () => send({ type: "load", preset: b.dataset.preset }));
    presetDoc(b.dataset.preset).then((d) => d && drawThumb(b.querySelector("canvas"), d));
  });

  // --- points on the plane -------------------------------------------------------------------
  function addPoint(x, cls) {
    const ds = store.dataset;
    if (!ds) return;
    const y0 = ds.train.y;
    let label;
    if (y0[0].length > 1) {
      label = y0[0].map((_, k) => (k === cls ? 1 : 0));
    } else {
      const vals = y0.map((r) => r[0]);
      label = [cls === 0 ? Math.max(...vals) : Math.min(...vals)];
    }
    const d = clone(doc());
    d.data = { train: { x: [...ds.train.x, x], y: [...y0, label] } };
    if (ds.test) d.data.test = ds.test;
    load(d);
    note(`Added a point of class ${cls === 0 ? "A" : "B"} at (${fmt(x[0], 3)}, ${fmt(x[1], 3)}).`);
  }

  // --- URL -------------------------------------------------------------------------------
  async function syncURL() {
    if (!store.server || !started || document.body.dataset.room) return; // a room's page is /r/CODE
    const d = doc();
    const name = presetDocs.has(d.name) || $(`[data-preset="${CSS.escape(d.name)}"]`) ? d.name : defaultPreset;
    const base = await presetDoc(name);
    if (!base) return;
    const q = toQuery(name, base, d, store.view);
    if (location.search !== `?${q}`) history.replaceState(null, "", `?${q}`);
  }

  // On the first state of the page: load what the URL asks for, unless it is already there.
  async function start() {
    if (document.body.dataset.room) {
      started = true; // a room shows what its presenter loaded
      return;
    }
    const q = new URLSearchParams(location.search);
    const name = q.get("preset") || defaultPreset;
    const base = await presetDoc(name);
    started = true;
    if (!base) {
      note(`No preset named "${name}".`);
      return syncURL();
    }
    const { doc: want, changed } = fromQuery(location.search, base);
    if (changed) load(want);
    else if (doc().name !== name) send({ type: "load", preset: name });
    else syncURL();
  }

  function onState() {
    refreshForm();
    if (!started) start();
    else syncURL();
  }

  function initView() {
    const { view } = fromQuery(location.search, { layers: [], activations: [], data: {} });
    for (const s of VIEW) store.view[s.key] = view[s.key];
    setView("presenter", store.view.presenter);
  }

  // --- actions for the views -------------------------------------------------------------------
  const actions = {
    send,
    addPoint,
    select(t) {
      store.selection = t;
      store.pinned = true;
      store.touch("select", "explain");
    },
    requestSlice(s) {
      const key = `${s.l}:${s.j}:${s.i}@${store.server.step}`;
      if (key === sliceKey || playing() === "train") return;
      sliceKey = key;
      const w = store.weights[s.l - 1][s.j][s.i];
      const step = store.server.step; // the step shown, wherever the run's cursor is
      send({ type: "slice", layer: s.l, to: s.j, from: s.i, span: Math.max(1, 1.5 * Math.abs(w)), points: 61, step });
    },
  };

  return { actions, onState, initView, animMs };
}
