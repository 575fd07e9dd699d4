// The network out and in: downloads from GET api/sessions/ID/export, and weights uploaded to
// POST api/sessions/ID/import (safetensors or .npz; the server refuses pickles and names any
// tensor of the wrong shape).

import { download } from "./util.js";

const NAMES = { safetensors: ".safetensors", npz: ".npz", torch: "_torch.py", numpy: "_numpy.py" };

export function createModels(root, store, note) {
  const file = root.querySelector("[data-model-file]");
  const session = () => store.conn.session;

  async function exportAs(format) {
    if (!session()) return note("Not connected yet.");
    const r = await fetch(`api/sessions/${encodeURIComponent(session())}/export?format=${format}`);
    if (!r.ok) return note(`Export failed: ${(await r.json().catch(() => ({}))).detail || r.status}`);
    download(`${store.server?.scenario.name || "network"}${NAMES[format]}`, await r.blob());
  }

  async function importFile(f) {
    if (!session()) return note("Not connected yet.");
    const url = `api/sessions/${encodeURIComponent(session())}/import?name=${encodeURIComponent(f.name)}`;
    const r = await fetch(url, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: f });
    const answer = await r.json().catch(() => ({}));
    note(r.ok ? `Weights imported from ${f.name} at step ${answer.step}.` : `Not imported: ${answer.detail || r.status}`);
  }

  root.querySelectorAll("[data-model-export]").forEach((b) => b.addEventListener("click", () => exportAs(b.dataset.modelExport)));
  root.querySelector("[data-model-import]").addEventListener("click", () => file.click());
  file.addEventListener("change", () => {
    const f = file.files[0];
    file.value = "";
    if (f) importFile(f);
  });
}
