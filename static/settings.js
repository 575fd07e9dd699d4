// Every user setting in one table, with one generic routine to write it to the URL and read
// it back. Scenario settings are diffed against the preset, so a link names only what changed.

const GENERATORS = {
  circle: { inputs: 2, task: "binary" },
  xor: { inputs: 2, task: "binary" },
  gaussian: { inputs: 2, task: "binary" },
  spiral: { inputs: 2, task: "binary" },
  moons: { inputs: 2, task: "binary" },
  three_class: { inputs: 2, task: "multiclass", outputs: 3 },
  regression_plane: { inputs: 2, task: "regression", outputs: 1 },
  regression_sine: { inputs: 1, task: "regression", outputs: 1 },
  and: { inputs: 2, task: "binary", fixed: 4 },
  or: { inputs: 2, task: "binary", fixed: 4 },
  xor_gate: { inputs: 2, task: "binary", fixed: 4 },
  encoder_8_3_8: { inputs: 8, task: "identity", outputs: 8, fixed: 8 },
};

export const ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"];
const LOSSES = ["squared_error", "binary_cross_entropy", "cross_entropy"];
const OPT_KEYS = {
  sgd: ["learning_rate"],
  momentum: ["learning_rate", "momentum"],
  adam: ["learning_rate", "beta1", "beta2", "epsilon"],
  lbfgs: ["learning_rate", "memory"],
};
const isOpt = (t) => (doc) => doc.optimizer?.type === t;
const generated = (doc) => "generator" in (doc.data || {});

// key: URL parameter; path: place in the scenario; def: the server's default when absent;
// live: the `set` command that changes it without a reload.
export const SETTINGS = [
  { key: "data", path: "data.generator", type: "enum", values: Object.keys(GENERATORS), label: "Dataset", when: generated },
  { key: "n", path: "data.samples", type: "int", def: 500, min: 2, max: 10000, label: "Samples", when: generated },
  { key: "noise", path: "data.noise", type: "num", def: 0, min: 0, max: 10, step: 0.05, label: "Noise", when: generated },
  { key: "split", path: "data.train_fraction", type: "num", def: 0.5, min: 0.05, max: 1, step: 0.05, label: "Train fraction", when: generated },
  { key: "seed", path: "seed", type: "int", def: 0, min: 0, max: 4294967295, label: "Seed" },
  { key: "layers", path: "layers", type: "ints", label: "Layers" },
  { key: "act", path: "activations", type: "list", label: "Activations" },
  { key: "init", path: "init.scheme", type: "enum", def: "xavier", values: ["xavier", "he", "uniform", "zeros"], label: "Init" },
  { key: "scale", path: "init.scale", type: "num", def: 0.5, min: 0.01, max: 100, step: 0.1, label: "Init scale", when: (d) => d.init?.scheme === "uniform" },
  { key: "loss", path: "loss", type: "enum", def: "squared_error", values: LOSSES, label: "Loss" },
  { key: "opt", path: "optimizer.type", type: "enum", def: "sgd", values: Object.keys(OPT_KEYS), label: "Optimizer", live: "optimizer" },
  { key: "lr", path: "optimizer.learning_rate", type: "num", def: 0.03, min: 0.00001, max: 100, step: "any", label: "Learning rate", live: "learning_rate" },
  { key: "mom", path: "optimizer.momentum", type: "num", def: 0.9, min: 0, max: 0.999, step: 0.05, label: "Momentum μ", live: "optimizer", when: isOpt("momentum") },
  { key: "beta1", path: "optimizer.beta1", type: "num", def: 0.9, min: 0, max: 0.9999, step: 0.01, label: "β₁", live: "optimizer", when: isOpt("adam") },
  { key: "beta2", path: "optimizer.beta2", type: "num", def: 0.999, min: 0, max: 0.9999, step: 0.001, label: "β₂", live: "optimizer", when: isOpt("adam") },
  { key: "eps", path: "optimizer.epsilon", type: "num", def: 1e-8, min: 1e-12, max: 1, step: "any", label: "ε", live: "optimizer", when: isOpt("adam") },
  { key: "mem", path: "optimizer.memory", type: "int", def: 10, min: 1, max: 50, label: "Memory m", live: "optimizer", when: isOpt("lbfgs") },
  { key: "batch", path: "batch_size", type: "int", def: 10, min: 1, max: 10000, label: "Batch size", live: "batch_size" },
  { key: "reg", path: "regularization.type", type: "enum", def: "none", values: ["none", "l1", "l2"], label: "Regularization", live: "regularization" },
  { key: "rate", path: "regularization.rate", type: "num", def: 0, min: 0, max: 10, step: "any", label: "Reg. rate λ", live: "regularization", when: (d) => d.regularization?.type && d.regularization.type !== "none" },
  { key: "shuffle", path: "shuffle", type: "bool", def: false, label: "Shuffle each epoch" },
];

// Settings of the page itself, not of the run.
export const VIEW = [
  // one speed control: 0–40 phases/s, 41–99 steps/s, 100 flat out (static/pace.js)
  { key: "pace", type: "int", def: 20, min: 0, max: 100, label: "Speed" },
  { key: "digits", type: "int", def: 4, min: 2, max: 10, label: "Digits" },
  { key: "numbers", type: "bool", def: false, label: "Numbers" },
  { key: "log", type: "bool", def: false, label: "Log scale" },
  { key: "test", type: "bool", def: true, label: "Test points" },
  { key: "presenter", type: "bool", def: false, label: "Presenter mode" },
];

const ENC = {
  num: String,
  int: String,
  enum: String,
  bool: (v) => (v ? "1" : "0"),
  ints: (v) => v.join("-"),
  list: (v) => v.join(","),
};
const DEC = {
  num: (s) => (s.trim() === "" ? NaN : Number(s)),
  int: (s) => (/^\d+$/.test(s) ? Number(s) : NaN),
  enum: (s) => s,
  bool: (s) => s === "1" || s === "true",
  ints: (s) => s.split("-").map(Number),
  list: (s) => s.split(","),
};
const valid = (v) => (Array.isArray(v) ? v.every((x) => x !== "" && !Number.isNaN(x)) : !Number.isNaN(v));

function getPath(o, path) {
  return path.split(".").reduce((x, k) => (x == null ? undefined : x[k]), o);
}

function setPath(o, path, v) {
  const keys = path.split(".");
  let x = o;
  for (const k of keys.slice(0, -1)) x = x[k] = x[k] && typeof x[k] === "object" ? x[k] : {};
  x[keys[keys.length - 1]] = v;
}

export const read = (doc, s) => getPath(doc, s.path) ?? s.def;
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
export const clone = (o) => JSON.parse(JSON.stringify(o));

// The training-set size a scenario will have, as the server computes it.
function trainSize(doc) {
  const d = doc.data || {};
  if (!generated(doc)) return d.train?.x?.length ?? 1;
  const g = GENERATORS[d.generator];
  return g?.fixed ?? Math.max(1, Math.round((d.train_fraction ?? 0.5) * (d.samples ?? 500)));
}

// Make a scenario consistent after an edit: the shapes, the task's output, the loss's output.
export function fit(doc) {
  const n = doc.layers;
  const g = generated(doc) ? GENERATORS[doc.data.generator] : null;
  if (g) {
    n[0] = g.inputs;
    const want = g.outputs ?? (n[n.length - 1] === 2 ? 2 : 1);
    n[n.length - 1] = want;
  }
  const depth = n.length - 1;
  const acts = doc.activations || [];
  const hidden = acts.find((a, k) => k < acts.length - 1) || "tanh";
  let out = acts[acts.length - 1] || "sigmoid";
  const next = [];
  for (let l = 0; l < depth - 1; l++) next.push(acts[l] && acts[l] !== "softmax" ? acts[l] : hidden);
  if (g && (g.task === "multiclass" || g.task === "identity") && n[depth] >= 3 && doc.loss !== "binary_cross_entropy") {
    doc.loss = "cross_entropy";
  }
  if (doc.loss === "cross_entropy" && n[depth] < 2) doc.loss = "squared_error";
  if (doc.loss === "cross_entropy") out = "softmax";
  else if (doc.loss === "binary_cross_entropy") out = "sigmoid";
  else if (out === "softmax") out = "sigmoid";
  next.push(out);
  doc.activations = next;
  const shapeOk = (w) => w && w.length === depth && w.every((m, l) => m.length === n[l + 1]);
  if (!shapeOk(doc.weights) || doc.weights.some((m, l) => m.some((r) => r.length !== n[l]))) delete doc.weights;
  if (!shapeOk(doc.biases)) delete doc.biases;
  const o = doc.optimizer || { type: "sgd" };
  const keys = OPT_KEYS[o.type] || OPT_KEYS.sgd;
  doc.optimizer = Object.fromEntries([["type", o.type], ...keys.filter((k) => k in o).map((k) => [k, o[k]])]);
  if (o.type === "lbfgs") doc.batch_size = Math.max(doc.batch_size ?? 10, trainSize(doc));
  return doc;
}

// The scenario with one setting changed, made consistent.
export function edit(doc, key, value) {
  const d = clone(doc);
  const s = SETTINGS.find((x) => x.key === key);
  if (key === "data" && !generated(d)) d.data = { generator: value };
  else setPath(d, s.path, value);
  return fit(d);
}

// URL query of a scenario against its preset `base`, plus the view settings off default.
export function toQuery(name, base, doc, view) {
  const q = new URLSearchParams({ preset: name });
  for (const s of SETTINGS) {
    if (s.when && !s.when(doc)) continue;
    const v = read(doc, s);
    if (v !== undefined && !same(v, read(base, s))) q.set(s.key, ENC[s.type](v));
  }
  for (const s of VIEW) if (view[s.key] !== undefined && view[s.key] !== s.def) q.set(s.key, ENC[s.type](view[s.key]));
  return q.toString();
}

// The scenario a query describes (its preset `base` changed by the query) and the view.
export function fromQuery(query, base) {
  const q = new URLSearchParams(query);
  let doc = clone(base);
  let changed = false;
  for (const s of SETTINGS) {
    if (!q.has(s.key)) continue;
    const v = DEC[s.type](q.get(s.key));
    if (!valid(v) || same(v, read(doc, s))) continue;
    if (s.key === "data" && !generated(doc)) doc.data = { generator: v };
    else setPath(doc, s.path, v);
    changed = true;
  }
  if (changed) doc = fit(doc);
  const view = {};
  for (const s of VIEW) {
    const v = q.has(s.key) ? DEC[s.type](q.get(s.key)) : s.def;
    view[s.key] = valid(v) ? v : s.def;
  }
  return { doc, view, changed };
}

// The `set` command for a live setting, from the scenario that holds the new value.
export function liveCommand(doc, s) {
  if (s.live === "learning_rate") return { type: "set", learning_rate: doc.optimizer.learning_rate };
  if (s.live === "batch_size") return { type: "set", batch_size: doc.batch_size };
  if (s.live === "regularization") return { type: "set", regularization: doc.regularization };
  return { type: "set", optimizer: doc.optimizer };
}
