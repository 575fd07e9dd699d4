// The one store: server events reduce into it; views read it on animation frames.
// touch(topic) marks what changed so each view redraws only when its topics are dirty.

import { norm } from "./math.js";

const TRACE_MAX = 50000;
const LOG_MAX = 300;
const NORMS_MAX = 600;
const HEALTH_MAX = 300;

// the examples table (views/examples.js): for inputs that are not a plane, and sets this small
export const EXAMPLE_ROWS = 16;
export const showsExamples = (ds) => !!ds && (!ds.extent || ds.train.x.length <= EXAMPLE_ROWS);

export function phaseName(p) {
  if (!p) return "Ready";
  switch (p.event) {
    case "batch":
      return "Batch";
    case "forward":
      return `Forward · layer ${p.layer}`;
    case "output_error":
      return "Output error";
    case "backward":
      return `Backward · layer ${p.layer}`;
    case "update":
      return "Update";
    case "frame":
      return "Training";
  }
  return "Ready";
}

// The phase that follows `p` in a step of L weight layers.
function nextPhase(p, L) {
  const l = p.layer;
  switch (p.event) {
    case "batch":
      return { event: "forward", layer: 1 };
    case "forward":
      return l < L ? { event: "forward", layer: l + 1 } : { event: "output_error", layer: null };
    case "output_error":
      return { event: "backward", layer: L };
    case "backward":
      return l > 1 ? { event: "backward", layer: l - 1 } : { event: "update", layer: 1 };
    default:
      return l < L ? { event: "update", layer: l + 1 } : { event: "batch", layer: null };
  }
}

export function createStore() {
  const s = {
    conn: { status: "connecting", retries: 0, session: null },
    server: null, // the last `state`, kept current by the events after it
    layers: [],
    acts: [],
    weights: [],
    biases: [],
    dataset: null,
    cur: null, // the step on screen: its events as they arrive
    ended: null, // the last whole step: {cur, weights, biases, at, gap} (ms since the one before)
    shown: null, // the phase just shown: {event, layer, at}
    lastMode: "animate",
    maps: { seq: 0, step: 0, list: [], byKey: new Map() },
    curve: [],
    norms: [],
    log: [],
    logSeq: 0,
    trace: [],
    selection: null, // {kind: "neuron" | "weight" | "bias" | "layer", l, j, i}
    pinned: false, // false: the inspector follows the phase
    slice: null,
    gradcheck: null,
    health: [], // the latest `health` events, oldest first
    graph: null, // the last `graph` event
    outputs: null, // the server's outputs on the first training examples: {step, y}
    frameActs: null, // train mode: every layer's activations of the highlighted example
    notice: null,
    room: null, // {code, role, viewers, presenter} in a classroom room
    branch: null, // the last `branch` event, its curve whole: run b beside this run
    view: {},
    dirty: new Set(["all"]),
  };

  s.touch = (...topics) => topics.forEach((t) => s.dirty.add(t));
  s.L = () => s.layers.length - 1;
  // the highlighted example, within step c's batch
  s.sel = (c = s.cur) => (c ? Math.min(s.server?.selected ?? 0, c.batch ? c.batch.x.length - 1 : 0) : 0);

  function pushLog(ev) {
    s.log.push({ seq: ++s.logSeq, ev });
    if (s.log.length > LOG_MAX) s.log.splice(0, s.log.length - LOG_MAX);
    s.touch("log");
  }

  function curveRow(e) {
    const row = [e.step, e.epoch, e.train_loss, e.test_loss, e.train_accuracy, e.test_accuracy];
    const last = s.curve[s.curve.length - 1];
    if (last && last[0] === row[0]) s.curve[s.curve.length - 1] = row;
    else if (!last || last[0] < row[0]) s.curve.push(row);
    if (s.curve.length > 4000) s.curve = s.curve.filter((_, k) => k % 2 === 0 || k === s.curve.length - 1);
    s.touch("curve");
  }

  function pushNorms(step, norms) {
    s.norms.push({ step, norms });
    if (s.norms.length > NORMS_MAX) s.norms.splice(0, s.norms.length - NORMS_MAX);
    s.touch("norms");
  }

  function stepOf(step) {
    if (!s.cur || s.cur.step !== step) {
      s.cur = { step, batch: null, forward: [], outErr: null, backward: [], update: [], w0: s.weights, b0: s.biases };
    }
    return s.cur;
  }

  function shown(ev) {
    s.shown = { event: ev.type, layer: ev.layer ?? null, at: performance.now() };
    if (s.server) s.server.phase = nextPhase(s.shown, s.L());
    s.touch("phase", "status");
  }

  const on = {
    state(ev) {
      const shape = JSON.stringify([ev.scenario.layers, ev.scenario.activations]);
      if (shape !== JSON.stringify([s.layers, s.acts])) s.touch("net");
      const keep = s.cur && ev.phase.event !== "batch" && s.cur.step === ev.step + 1;
      if (!keep) {
        s.cur = null;
        s.shown = null;
        s.ended = null;
      }
      s.server = ev;
      s.frameActs = null; // they were for a frame's weights, not these
      s.layers = ev.scenario.layers;
      s.acts = ev.scenario.activations;
      // a selection the new network has no unit for (another scenario): none, following the phase
      const q = s.selection;
      if (q && !(q.l < s.layers.length && (q.kind === "layer" || q.j < s.layers[q.l]) && !(q.i >= s.layers[q.l - 1]))) {
        s.selection = null;
        s.pinned = false;
      }
      s.weights = ev.weights;
      s.biases = ev.biases;
      if (keep) {
        s.cur.update.forEach((u, l) => {
          if (u) {
            s.weights[l - 1] = u.weights;
            s.biases[l - 1] = u.biases;
          }
        });
      } else {
        s.slice = null;
      }
      s.curve = ev.curve.slice();
      if (ev.playing) s.lastMode = ev.playing;
      else s.pausing = 0; // a pause asked for is answered (views/status.js)
      if (s.conn.session !== ev.session) s.norms = [];
      s.conn.session = ev.session;
      s.room = ev.room ? { presenter: s.room?.presenter ?? ev.room.role === "presenter", ...ev.room } : null;
      s.touch("all", "room");
    },
    dataset(ev) {
      s.dataset = ev;
      s.outputs = null; // they were for the old set; the new ones follow in the welcome
      s.touch("data");
    },
    batch(ev) {
      s.cur = null;
      stepOf(ev.step).batch = ev;
      s.cur.epoch = ev.epoch;
      s.gradcheck = null;
      shown(ev);
    },
    forward(ev) {
      stepOf(ev.step).forward[ev.layer] = ev;
      shown(ev);
    },
    output_error(ev) {
      stepOf(ev.step).outErr = ev;
      shown(ev);
    },
    backward(ev) {
      const c = stepOf(ev.step);
      c.backward[ev.layer] = ev;
      if (ev.layer === 1) pushNorms(ev.step, c.backward.slice(1).map((b) => norm(b.grad_w)));
      shown(ev);
    },
    update(ev) {
      stepOf(ev.step).update[ev.layer] = ev;
      s.weights = s.weights.slice();
      s.biases = s.biases.slice();
      s.weights[ev.layer - 1] = ev.weights;
      s.biases[ev.layer - 1] = ev.biases;
      shown(ev);
      if (ev.layer === s.L() && s.server) {
        s.server.step = ev.step;
        s.server.history.last = Math.max(s.server.history.last, ev.step);
        const at = performance.now();
        s.ended = { cur: s.cur, weights: s.weights, biases: s.biases, at, gap: at - (s.ended?.at ?? -Infinity) };
      }
      s.touch("params");
    },
    epoch(ev) {
      curveRow(ev);
      if (s.server) s.server.epoch = Math.max(s.server.epoch, ev.epoch);
      s.touch("status");
    },
    outputs(ev) {
      s.outputs = ev;
      s.touch("outputs");
    },
    frame(ev) {
      s.cur = null;
      s.frameActs = ev.a;
      if (ev.outputs) s.outputs = { step: ev.step, y: ev.outputs };
      s.shown = { event: "frame", layer: null, at: performance.now() };
      s.weights = ev.weights;
      s.biases = ev.biases;
      curveRow(ev);
      pushNorms(ev.step, ev.grad_norms);
      if (s.server) {
        s.server.step = ev.step;
        s.server.epoch = ev.epoch;
        s.server.history.last = ev.step;
        s.server.phase = { event: "batch", layer: null };
      }
      s.touch("params", "phase", "status", "outputs");
    },
    gradcheck(ev) {
      s.gradcheck = ev;
      s.touch("explain");
    },
    slice(ev) {
      s.slice = ev;
      s.touch("explain");
    },
    branch(ev) {
      // a frame's event carries only the rows since the last one
      const curve = ev.full || !s.branch ? ev.curve : s.branch.curve.concat(ev.curve);
      s.branch = { ...ev, curve: curve.length > 4000 ? curve.filter((_, k) => k % 2 === 0) : curve };
      s.touch("branch");
    },
    branch_closed(ev) {
      s.branch = null;
      s.notice = { kind: "info", text: `Kept run ${ev.kept}: ${ev.reason}.`, at: performance.now() };
      s.touch("branch", "status");
    },
    health(ev) {
      const h = s.health;
      while (h.length && h[h.length - 1].step >= ev.step) h.pop(); // after a seek, the future goes
      h.push(ev);
      if (h.length > HEALTH_MAX) h.splice(0, h.length - HEALTH_MAX);
      s.touch("health");
    },
    graph(ev) {
      s.graph = ev;
      s.touch("graph");
    },
    room(ev) {
      if (s.room) Object.assign(s.room, { viewers: ev.viewers, presenter: ev.presenter });
      s.touch("room");
    },
    // told in words by ./words.js, loaded at the first error; a notice set meanwhile stays
    error(ev) {
      const at = performance.now();
      import("./words.js")
        .then((m) => m.humane(ev), () => "The server refused that: the step log has the details.")
        .then((text) => {
          if (s.notice?.at > at) return;
          s.notice = { kind: "error", text, code: ev.code, at: performance.now() }; // shown from now
          s.touch("status");
        });
    },
  };

  s.apply = (ev, raw) => {
    if (raw !== undefined) {
      s.trace.push(raw);
      if (s.trace.length > TRACE_MAX) s.trace.splice(0, s.trace.length - TRACE_MAX + 5000);
    }
    const fn = on[ev.type];
    if (fn) fn(ev);
    // frames' own are not steps
    if (ev.type !== "frame" && ev.type !== "health" && !(ev.type === "branch" && !ev.full)) pushLog(ev);
    if (ev.type !== "dataset" && ev.type !== "error") s.touch("explain");
  };

  s.applyMaps = (m) => {
    s.maps.seq = m.seq;
    s.maps.step = m.step;
    s.maps.list = m.maps;
    s.maps.byKey = new Map(m.maps.map((x) => [`${x.layer}:${x.unit}`, x]));
    s.touch("maps");
  };

  return s;
}
