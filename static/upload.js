// Bulk data over HTTP. A scenario too large for one websocket message (they stop at 1 MiB) is
// stored with POST /api/scenarios and loaded by reference; a CSV file, picked or dropped onto
// the output plane, is read by POST /api/datasets/csv and becomes a scenario the same way.
// Loaded at the first large scenario or CSV file (static/drop.js).

const OUTPUT = {
  binary: ["sigmoid", "binary_cross_entropy"],
  multiclass: ["softmax", "cross_entropy"],
  regression: ["linear", "squared_error"],
};

// The answer's JSON, or an Error whose message is the server's own words.
async function answer(r) {
  if (r.ok) return r.json();
  let detail = `the server answered ${r.status} ${r.statusText}`;
  try {
    const body = await r.json();
    if (body.detail !== undefined) detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    // not JSON: keep the status line
  }
  throw new Error(detail);
}

async function post(url, type, body) {
  return answer(await fetch(url, { method: "POST", headers: { "content-type": type }, body }));
}

// A scenario for a CSV dataset: the current hidden layers and training settings, as many
// inputs as the file has, and the output and loss its task needs. Every row trains.
export function scenarioFromCSV(ds, cur, fileName) {
  const n = ds.x.length;
  const [out, loss] = OUTPUT[ds.task];
  const opt = cur.optimizer ?? { type: "sgd" };
  const base = fileName.replace(/\.[^.]*$/, "") || "data";
  const inputs = ds.columns.slice(0, -1);
  const label = ds.columns[ds.columns.length - 1];
  const what = ds.task === "regression" ? "targets" : `classes ${ds.classes.join(", ")}`;
  return {
    name: base.slice(0, 100),
    title: `${base} (CSV)`.slice(0, 200),
    description: `${n} rows of ${fileName}: inputs ${inputs.join(", ")}; ${label} as ${what}.`.slice(0, 4000),
    layers: [inputs.length, ...cur.layers.slice(1, -1), ds.y[0].length],
    activations: [...cur.activations.slice(0, -1), out],
    loss,
    optimizer: opt,
    regularization: cur.regularization ?? { type: "none", rate: 0 },
    batch_size: opt.type === "lbfgs" ? n : Math.min(cur.batch_size ?? 10, n),
    shuffle: !!cur.shuffle,
    seed: cur.seed ?? 0,
    init: cur.init ?? { scheme: "xavier" },
    data: { train: { x: ds.x, y: ds.y } },
  };
}

// A scenario stored on the server: its id (for a link), or an Error in the server's words.
export async function storeScenario(doc) {
  return (await post("api/scenarios", "application/json", JSON.stringify(doc))).id;
}

// A scenario too large to go inline: stored, then loaded by its id.
export async function uploadScenario(store, send, note, scenario, text) {
  note(`Uploading the scenario (${(text.length / 1e6).toFixed(1)} MB)…`);
  try {
    const { id } = await post("api/scenarios", "application/json", text);
    store.lastRef = { id, name: scenario.name }; // a link to it names the stored copy (link.js)
    send({ type: "load", ref: id });
  } catch (err) {
    note(`The scenario was not loaded: ${err.message}`);
  }
}

// A CSV file: read by the server, made a scenario with the current settings, and loaded.
export async function loadCSV(store, send, note, file) {
  note(`Reading ${file.name}…`);
  try {
    const ds = await post("api/datasets/csv", "text/csv", file);
    const doc = scenarioFromCSV(ds, store.server.scenario, file.name);
    const { id } = await post("api/scenarios", "application/json", JSON.stringify(doc));
    store.lastRef = { id, name: doc.name };
    send({ type: "load", ref: id });
    note(`${file.name}: ${ds.x.length} examples, ${ds.columns.length - 1} inputs, ${ds.task}.`);
  } catch (err) {
    note(`${file.name} was not loaded: ${err.message}`);
  }
}
