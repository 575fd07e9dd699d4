// Guided lessons: the picker, the scene in progress (its run set up by commands, its narration,
// highlights), predict-then-reveal questions judged against the engine's value, the class's
// poll for a presenter, and progress kept in localStorage. URL state: ?lesson=ID&scene=N.

import { PHASE_OF, VIEW_SELECTORS, loadProgress, phaseIndex, pickEquations, saveProgress, selectionOf } from "../lessons.js";
import { el, fmt, text } from "../util.js";

const $ = (sel) => document.querySelector(sel);

export function createLesson(store, actions) {
  const picker = $("[data-lesson-picker]");
  const list = $("[data-lesson-list]");
  const panel = $("[data-lesson]");
  const sceneBox = $("[data-lesson-scene]");
  const form = $("[data-question]");
  const inputBox = $("[data-question-input]");
  const submit = $("[data-question-submit]");
  const revealBtn = $("[data-question-reveal]");
  const feedback = $("[data-feedback]");
  const eqBox = $("[data-feedback-eq]");
  const pollBox = $("[data-poll]");
  const sheet = $("[data-lesson-worksheet]");
  const cache = new Map();
  let summaries = [];
  let cur = null; // {lesson, n}
  let q = null; // the open question: the `question` event, its definition, the answer given, the reveal
  let progress = loadProgress();
  let highlighted = [];

  const role = () => store.room?.role ?? "owner";
  const L = () => store.layers.length - 1;
  const note = (t) => {
    store.notice = { kind: "info", text: t, at: performance.now() };
    store.touch("status");
  };

  async function fetchLesson(id) {
    if (!cache.has(id)) {
      const r = await fetch(`api/lessons/${encodeURIComponent(id)}`);
      cache.set(id, r.ok ? await r.json() : null);
    }
    return cache.get(id);
  }

  async function fillPicker() {
    const r = await fetch("api/lessons");
    if (!r.ok) return;
    summaries = await r.json();
    list.replaceChildren();
    for (const s of summaries) {
      const li = el("li", {}, list);
      const b = el("button", { type: "button", "data-lesson-pick": s.id }, li);
      el("strong", {}, b, s.title);
      const seen = progress[s.id]?.scene;
      const where = seen !== undefined ? ` · at scene ${seen + 1} of ${s.scenes}` : ` · ${s.scenes} scenes`;
      el("span", {}, b, ` · ${s.minutes} min${where}`);
      el("span", { class: "concepts" }, b, s.concepts.join(", "));
    }
  }

  list.addEventListener("click", (e) => {
    const b = e.target.closest("[data-lesson-pick]");
    if (!b) return;
    picker.open = false;
    const id = b.dataset.lessonPick;
    open(id, progress[id]?.scene ?? 0);
  });

  // --- scenes ------------------------------------------------------------------------------------
  async function open(id, n, setup = true) {
    const lesson = await fetchLesson(id);
    if (!lesson) return note(`No lesson "${id}".`);
    n = Math.max(0, Math.min(lesson.scenes.length - 1, n | 0));
    cur = { lesson, n };
    const scene = lesson.scenes[n];
    document.body.dataset.lessonActive = id;
    panel.dataset.lesson = id;
    sceneBox.dataset.lessonScene = String(n);
    panel.hidden = false;
    text($("[data-lesson-title]"), lesson.title);
    text($("[data-lesson-pos]"), `Scene ${n + 1} of ${lesson.scenes.length}`);
    text($("[data-lesson-scene-title]"), scene.title || "");
    // the server rendered the Markdown with raw HTML off and unsafe links dropped
    $("[data-lesson-text]").innerHTML = scene.html;
    sheet.hidden = !scene.worksheet;
    if (scene.worksheet) {
      sheet.href = `api/worksheet?preset=${encodeURIComponent(scene.preset)}&step=${scene.steps + 1}`;
    }
    q = null;
    form.hidden = true;
    feedback.hidden = true;
    pollBox.hidden = true;
    if (!document.body.dataset.room) history.replaceState(null, "", `?lesson=${encodeURIComponent(id)}&scene=${n}`);
    progress[id] = { ...(progress[id] || {}), scene: n };
    saveProgress(progress);
    if (setup && role() !== "viewer") {
      actions.send({ type: "load", scenario: scene.scenario });
      if (scene.steps) actions.send({ type: "step", count: scene.steps });
      if (scene.phase) {
        const depth = scene.scenario.layers.length - 1;
        for (let k = 0; k <= phaseIndex(scene.phase, depth); k++) actions.send({ type: "next" });
      }
      if (scene.question) actions.send({ type: "ask", lesson: id, scene: n });
    }
    store.touch("lesson");
  }

  function close() {
    cur = null;
    q = null;
    panel.hidden = true;
    panel.dataset.lesson = "";
    delete document.body.dataset.lessonActive;
    clearHighlights();
    if (!document.body.dataset.room) history.replaceState(null, "", location.pathname);
    actions.send({ type: "pause" }); // a state: the controls put the run's own URL back
  }

  function move(d) {
    if (!cur) return;
    const n = cur.n + d;
    if (n < 0) return note("This is the first scene.");
    if (n >= cur.lesson.scenes.length) {
      progress[cur.lesson.id] = { ...(progress[cur.lesson.id] || {}), done: true };
      saveProgress(progress);
      return note(`You have finished "${cur.lesson.title}".`);
    }
    open(cur.lesson.id, n);
  }

  // --- questions ---------------------------------------------------------------------------------
  async function onQuestion(ev) {
    const elsewhere = !cur || cur.lesson.id !== ev.lesson || cur.n !== ev.scene;
    if (elsewhere && role() !== "viewer") return; // asked by a scene this page has since left
    if (elsewhere) await open(ev.lesson, ev.scene, false); // a viewer reads the scene the presenter asks from
    const def = cur?.lesson.id === ev.lesson ? cur.lesson.scenes[ev.scene]?.question : null;
    q = { ev, def, answer: undefined, reveal: null };
    text($("[data-question-prompt]"), ev.prompt);
    inputBox.replaceChildren();
    if (ev.kind === "number") {
      const input = el("input", { type: "number", step: "any", inputmode: "decimal", name: "value", required: "" });
      input.setAttribute("aria-label", "Your answer");
      inputBox.append(input);
    } else {
      ev.choices.forEach((c, k) => {
        const lab = el("label", {}, inputBox);
        el("input", { type: "radio", name: "value", value: String(k), ...(k ? {} : { required: "" }) }, lab);
        lab.append(` ${c}`);
      });
    }
    submit.hidden = false;
    revealBtn.hidden = role() !== "presenter";
    form.hidden = false;
    feedback.hidden = true;
    pollBox.hidden = role() !== "presenter";
    if (!pollBox.hidden) drawPoll({}, 0);
    const first = inputBox.querySelector("input");
    if (first && ev.kind === "number") first.focus();
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!q || q.reveal) return;
    const data = new FormData(form);
    const raw = data.get("value");
    if (raw === null || raw === "") return note("Give an answer first.");
    const value = q.ev.kind === "number" ? Number(raw) : q.ev.choices[+raw];
    if (q.ev.kind === "number" && !Number.isFinite(value)) return note("Type a number.");
    q.answer = value;
    actions.send({ type: "answer", question: q.ev.question, value });
    for (const i of inputBox.querySelectorAll("input")) i.disabled = true;
    submit.hidden = true;
    panel.focus();
    if (role() === "owner") reveal();
    else {
      feedback.hidden = false;
      feedback.className = "lesson-feedback";
      text($("[data-feedback-text]"), `You said ${shown(value)}. Waiting for the reveal…`);
      text($("[data-feedback-why]"), "");
      eqBox.replaceChildren();
    }
  });

  // the engine's value now, then the phase that shows it
  function reveal() {
    if (!q || q.reveal) return;
    actions.send({ type: "reveal", question: q.ev.question });
    const targets = q.def ? (q.def.target ? [q.def.target] : q.def.options || []) : [];
    const phases = targets.filter((t) => PHASE_OF[t.quantity]).map((t) => ({ event: PHASE_OF[t.quantity], layer: t.layer ?? 1 }));
    if (!phases.length || !store.server) return;
    const at = store.cur && store.server.phase.event !== "batch" ? phaseIndex(store.server.phase, L()) : 0;
    const want = Math.max(...phases.map((p) => phaseIndex(p.event === "output_error" ? { event: p.event } : p, L())));
    for (let k = at; k <= want; k++) actions.send({ type: "next" });
  }

  function shown(v) {
    return typeof v === "number" ? fmt(v, 6) : `“${v}”`;
  }

  function judged(value) {
    if (q.answer === undefined) return null;
    if (q.ev.kind === "number") return Math.abs(q.answer - value) <= (q.ev.tolerance ?? 0);
    return q.answer === value;
  }

  function onReveal(ev) {
    if (!q || q.ev.question !== ev.question) return;
    q.reveal = ev;
    for (const i of inputBox.querySelectorAll("input")) i.disabled = true;
    submit.hidden = true;
    revealBtn.hidden = true;
    const right = judged(ev.value);
    feedback.hidden = false;
    feedback.className = `lesson-feedback ${right === null ? "" : right ? "right" : "wrong"}`;
    feedback.dataset.right = right === null ? "" : String(right);
    const said = right === null ? "" : `You said ${shown(q.answer)}; `;
    const verdict = right === null ? "" : right ? " Right." : " Not quite.";
    text($("[data-feedback-text]"), `${said}${said ? "it" : "It"} is ${shown(ev.value)}.${verdict}`);
    text($("[data-feedback-why]"), ev.explanation || "");
    if (cur && right !== null) {
      const p = progress[cur.lesson.id] || {};
      p.answers = { ...(p.answers || {}), [cur.n]: right };
      progress[cur.lesson.id] = p;
      saveProgress(progress);
    }
    // the filled-in equation that gives the value: the explain panel's, for the target
    const t = q.def?.target || q.def?.options?.find((o) => o.label === ev.value);
    const sel = selectionOf(t, L());
    eqBox.replaceChildren();
    if (sel) {
      if (t.example && store.cur?.batch) actions.send({ type: "select", example: t.example });
      actions.select(sel);
      q.copyEq = true;
      q.quantity = t.quantity;
    }
    if (role() === "presenter") drawPoll(ev.counts, ev.answers, ev.value);
    store.touch("lesson");
  }

  function drawPoll(counts, answers, truth) {
    pollBox.hidden = false;
    text($("[data-poll-count]"), answers);
    const bars = $("[data-poll-bars]");
    bars.replaceChildren();
    const keys = Object.keys(counts);
    const numeric = q?.ev.kind === "number";
    if (numeric) keys.sort((a, b) => +a - +b);
    const most = Math.max(1, ...keys.map((k) => counts[k]));
    // for a number, the bar whose range holds the truth: the last lower edge at or below it
    const truthKey = numeric && truth !== undefined ? keys.filter((k) => +k <= truth + 1e-12).pop() : truth;
    for (const k of keys) {
      const li = el("li", { class: k === truthKey ? "truth" : "" }, bars);
      el("span", {}, li, numeric ? `from ${fmt(+k, 4)}` : k);
      const m = el("meter", { min: "0", max: String(most), value: String(counts[k]) }, li);
      m.setAttribute("aria-label", `${counts[k]} answers`);
      el("span", {}, li, String(counts[k]));
    }
    if (truth !== undefined) el("li", { class: "truth" }, bars, `The engine's value: ${shown(truth)}`);
  }

  function onEvent(ev) {
    if (ev.type === "question") onQuestion(ev);
    else if (ev.type === "reveal") onReveal(ev);
    else if (ev.type === "poll" && q && q.ev.question === ev.question && role() === "presenter" && !q.reveal) {
      drawPoll(ev.counts, ev.answers);
    }
  }

  // --- highlights ------------------------------------------------------------------------------
  function clearHighlights() {
    for (const e of highlighted) e.classList.remove("lesson-hl");
    highlighted = [];
  }

  function highlight() {
    clearHighlights();
    const scene = cur?.lesson.scenes[cur.n];
    if (!scene) return;
    for (const h of scene.highlight) {
      const [kind, ...rest] = h.split(":");
      const sel = kind === "view" ? VIEW_SELECTORS[rest[0]] : `[data-${kind}="${rest.join(":")}"]`;
      let found = sel && document.querySelector(sel);
      if (found && kind === "view") found = found.closest("section, .region") || found;
      if (found) {
        found.classList.add("lesson-hl");
        highlighted.push(found);
      }
    }
  }

  function draw() {
    if (cur) highlight();
    if (q?.copyEq) {
      const maths = pickEquations([...document.querySelectorAll("[data-explain-body] math")], q.quantity);
      if (maths.length) eqBox.replaceChildren(...maths.map((m) => m.cloneNode(true)));
    }
    return false;
  }

  // --- keys and buttons ----------------------------------------------------------------------------
  const KEYS = { PageDown: 1, ".": 1, PageUp: -1, ",": -1 };
  document.addEventListener("keydown", (e) => {
    if (!cur || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || !(e.key in KEYS)) return;
    if (e.target.matches?.("input:not([type=radio]), select, textarea, [contenteditable]")) return;
    e.preventDefault();
    move(KEYS[e.key]);
  });
  document.addEventListener("click", (e) => {
    const b = e.target.closest("[data-action]");
    if (!b) return;
    const a = b.dataset.action;
    if (a === "lesson-next") move(1);
    else if (a === "lesson-back") move(-1);
    else if (a === "lesson-close") close();
    else if (a === "lesson-reveal") reveal();
  });

  // the URL's lesson, once the page has its first state
  let started = false;
  function start() {
    if (started) return;
    started = true;
    fillPicker();
    const u = new URLSearchParams(location.search);
    if (u.has("lesson")) open(u.get("lesson"), +(u.get("scene") || 0));
  }

  return {
    onEvent,
    start,
    view: { topics: ["all", "net", "params", "phase", "select", "explain", "lesson"], draw },
  };
}
