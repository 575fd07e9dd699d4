// What the page keeps and shares. The tab keeps its session id (sessionStorage), so a reload
// reattaches; the address bar always holds a link that reproduces what is on screen (a short
// query when the preset and settings say it all, else `?s=ID` of the scenario stored on the
// server under its content hash), plus `step=N`; each scenario opened is a history entry, so
// Back and Forward move between them; and a run the server lost is rebuilt from its scenario.

import { VIEW, clone, fromQuery, toQuery } from "./settings.js";

const TAB = "deltaflow:tab";
const docs = new Map();

// A preset's document, fetched once (null for a name that is no preset).
export async function presetDoc(name) {
  const known = [...document.querySelectorAll("[data-preset]")].some((b) => b.dataset.preset === name);
  if (!known) return null; // not asked of the server: a 404 would be logged as an error
  if (!docs.has(name)) {
    try {
      // relative to the page, which may sit under a reverse proxy's prefix
      const r = await fetch(`api/presets/${encodeURIComponent(name)}`);
      docs.set(name, r.ok ? await r.json() : null);
    } catch {
      return null; // offline: ask again next time
    }
  }
  return docs.get(name);
}

// The session this tab had for this very address, if any (a reload; not a link opened anew).
export function tabSession() {
  try {
    const t = JSON.parse(sessionStorage.getItem(TAB) || "null");
    return t && t.search === location.search ? t.session : null;
  } catch {
    return null;
  }
}

function keepTab(session) {
  try {
    sessionStorage.setItem(TAB, JSON.stringify({ session, search: location.search }));
  } catch {
    // storage refused (private mode): a reload starts from the link instead
  }
}

// JSON with sorted keys, so documents that differ only in key order compare equal.
function stable(v) {
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(v[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

const EXTRA = ["weights", "biases", "frozen", "bias_free"]; // what no query parameter carries
const listy = (v) => (Array.isArray(v) && v.length === 0 ? undefined : v);

// Whether the query of `d` against preset `base` says all of `d`.
function queryable(d, base) {
  if (EXTRA.some((k) => stable(listy(d[k])) !== stable(listy(base[k])))) return false;
  if ("generator" in d.data) return "generator" in base.data;
  return !d.data.omitted && stable(d.data) === stable(base.data);
}

function undoButton(on) {
  const b = document.querySelector('[data-action="undo"]');
  if (b) b.hidden = !on;
}

// a document no query says whole is stored on the server (static/upload.js), and linked by its id
const upload = (doc) => import("./upload.js").then((m) => m.storeScenario(doc));

export function createLink(store, { defaultPreset, note, send, load }) {
  let edit = null; // {weights, biases, step}: the weights as typed, and the step they were typed at
  let editing = false; // a set_weight, set_bias or set_data was sent: the next state carries the edit
  let changing = false; // the user opened another scenario: its link is a new history entry
  let restoring = false; // moving through the history: its entry stays as it is
  let started = false;
  let lost = null; // what this page had when its session was lost: {doc, step}
  let undo = null;
  const uploaded = new Map(); // stable JSON of a document -> its id on the server
  const room = !!document.body.dataset.room;

  // The scenario that reproduces the screen, and the steps to take from it.
  function shared() {
    const sv = store.server;
    const d = clone(sv.scenario);
    if (edit) {
      d.weights = edit.weights;
      d.biases = edit.biases;
    }
    return { doc: d, step: edit ? sv.step - edit.step : sv.step };
  }

  let lastId = null; // {scenario, edit, id}: the id of what is on screen, while it stays the same
  async function idOf(doc) {
    const sv = store.server;
    if (lastId && lastId.scenario === sv?.scenario && lastId.edit === edit) return lastId.id;
    const key = stable(doc);
    if (!uploaded.has(key)) uploaded.set(key, await upload(doc));
    const id = uploaded.get(key);
    if (sv) lastId = { scenario: sv.scenario, edit, id };
    return id;
  }

  // The query of the link to what is on screen.
  async function search() {
    const { doc, step } = shared();
    const base = await presetDoc(doc.name);
    let q;
    if (base && queryable(doc, base)) {
      q = new URLSearchParams(toQuery(doc.name, base, doc, store.view));
    } else {
      let id = store.lastRef?.name === doc.name && doc.data.omitted && !edit ? store.lastRef.id : null;
      if (!id && doc.data.omitted) return null; // the page never had this data whole: no link to make
      if (!id) id = await idOf(doc);
      q = new URLSearchParams({ s: id });
      for (const s of VIEW) {
        const v = store.view[s.key];
        if (v !== undefined && v !== s.def) q.set(s.key, s.type === "bool" ? (v ? "1" : "0") : String(v));
      }
    }
    if (step > 0) q.set("step", String(step));
    return `?${q}`;
  }

  let syncing = Promise.resolve();
  function sync() {
    // a room's page is /r/CODE (a room started from this page, too)
    if (!store.server || !started || room || document.body.dataset.room) return syncing;
    if (document.body.dataset.lessonActive) return syncing; // a lesson keeps ?lesson=ID&scene=N (views/lesson.js)
    syncing = syncing.then(async () => {
      let s;
      try {
        s = await search();
      } catch (err) {
        return note(`The link could not be made: ${err.message}`);
      }
      // a lesson may have started while the link was made (a preset's document is fetched)
      if (s === null || document.body.dataset.lessonActive) return;
      if (location.search !== s) {
        if (changing && !restoring) history.pushState(null, "", s);
        else history.replaceState(null, "", s);
      }
      changing = false;
      restoring = false;
      keepTab(store.conn.session);
    });
    return syncing;
  }

  // Open a saved position: the scenario (a document, a stored id or a preset), then its steps.
  async function open({ doc, ref, preset, step }) {
    if (ref) send({ type: "load", ref });
    else if (preset) send({ type: "load", preset });
    else await load(doc);
    if (step > 0) send({ type: "step", count: step });
  }

  // What the address asks for: {preset} or {s} for the socket, the step, and what went wrong.
  async function first() {
    const q = new URLSearchParams(location.search);
    const step = Math.max(0, Math.floor(Number(q.get("step")) || 0));
    if (q.get("s")) return { s: q.get("s"), step };
    const name = q.get("preset") || defaultPreset;
    const base = await presetDoc(name);
    if (!base) return { missing: name, step: 0 };
    const { doc, changed } = fromQuery(location.search, base);
    if (!changed) return { preset: name, step };
    try {
      return { s: await idOf(doc), step };
    } catch (err) {
      // not valid: the preset, then the document, whose refusal names what is wrong
      return { preset: name, doc, step, problem: err.message };
    }
  }

  let want = null;
  return {
    async first() {
      // a room shows what its presenter loaded; a lesson loads its scene
      want = room || new URLSearchParams(location.search).has("lesson") ? {} : await first();
      return want;
    },
    // for the socket: the scenario a new session should start on, should this one be lost
    fallback() {
      if (room) return {};
      if (!store.server) return want?.s ? { s: want.s } : want?.preset ? { preset: want.preset } : {};
      const q = new URLSearchParams(location.search);
      return q.get("s") ? { s: q.get("s") } : { preset: store.server.scenario.name };
    },
    // before a state is applied: a new session in place of the one this page had means it was lost
    beforeState(ev) {
      if (store.server && ev.session !== store.conn.session && !store.room && !ev.room) lost = shared();
    },
    onState(ev) {
      if (editing) {
        edit = { weights: clone(ev.weights), biases: clone(ev.biases), step: ev.step };
        editing = false;
      } else if (edit && ev.step < edit.step) {
        edit = null; // back before the edit: the run is the scenario's own again
      }
      if (!started) {
        started = true;
        if (want?.missing) note(`No preset named "${want.missing}": showing ${ev.scenario.title || ev.scenario.name}.`);
        if (want?.doc) load(want.doc);
        if (want?.step > ev.step && ev.history.last < want.step) send({ type: "step", count: want.step - ev.step });
      }
      sync();
    },
    // the server answered that this tab's session is gone
    onLost() {
      const had = lost;
      lost = null;
      if (!had) return; // a reload: the address already rebuilt it (see first)
      const same = stable(had.doc) === stable(store.server.scenario);
      if (same) {
        if (had.step) send({ type: "step", count: had.step });
      } else {
        open({ doc: had.doc, step: had.step });
      }
      const what = had.doc.title || had.doc.name;
      note(`The server no longer had this run (it restarted): rebuilt ${what} from its scenario${had.step ? `, replaying ${had.step} steps` : ""}.`);
    },
    edited() {
      editing = true;
    },
    // points added or removed (`set_data`): an edit of the run, which goes on from its step;
    // Undo sends the data as it was before
    dataEdited(before, what) {
      editing = true;
      undo = { data: before };
      undoButton(true);
      note(`${what} · Undo (Ctrl+Z) takes it back.`);
    },
    // the user opens another scenario: a new history entry, and an undo for the run it replaces
    changing(what) {
      changing = true;
      edit = null;
      if (undo?.data) {
        undo = null; // the points of the run it replaces
        undoButton(false);
      }
      if (store.server && store.server.step > 0) {
        undo = shared();
        undoButton(true);
        note(`${what} · step ${store.server.step} can be brought back with Undo (Ctrl+Z).`);
      } else if (what) {
        note(`${what}.`);
      }
    },
    canUndo: () => !!undo,
    undo() {
      if (!undo) return note("Nothing to undo.");
      const u = undo;
      undo = null;
      undoButton(false);
      if (u.data) {
        editing = true;
        send({ type: "set_data", data: u.data });
        return note("The points are back as they were; the weights and the step stay.");
      }
      changing = true;
      edit = null;
      open({ doc: u.doc, step: u.step });
      note(`Brought back ${u.doc.title || u.doc.name} at step ${u.step}.`);
    },
    reset() {
      edit = null;
    },
    // Back and Forward: open the scenario of the entry, as it was
    async popstate() {
      restoring = true;
      edit = null;
      const w = await first();
      if (w.missing) return note(`No preset named "${w.missing}".`);
      open(w.s ? { ref: w.s, step: w.step } : w.doc ? { doc: w.doc, step: w.step } : { preset: w.preset, step: w.step });
      const { view } = fromQuery(location.search, { layers: [], activations: [], data: {} });
      return view;
    },
    sync,
  };
}
