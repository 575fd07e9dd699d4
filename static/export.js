// Sharing and export: the scenario as JSON, the session's events as JSON Lines, and the network
// picture as SVG or PNG (with the neuron maps and the page's network styles inlined).

import { download, svgEl } from "./util.js";

function scenarioJSON(store) {
  return JSON.stringify(store.server.scenario, null, 2) + "\n";
}

export function exportScenario(store) {
  if (store.server.scenario.data?.omitted) {
    store.notice = { kind: "info", text: "This data is too large to export from the page: the file you imported has it.", at: performance.now() };
    store.touch("status");
    return;
  }
  download(`${store.server.scenario.name || "scenario"}.json`, scenarioJSON(store), "application/json");
}

export function exportTrace(store) {
  download(`deltaflow-${store.server?.scenario.name || "trace"}.jsonl`, store.trace.join("\n") + "\n", "application/x-ndjson");
}

// The page's address to the clipboard, or selected in its field where the browser refuses.
export async function copyLink(note) {
  try {
    await navigator.clipboard.writeText(location.href);
    note("Link copied.");
  } catch {
    const i = document.querySelector("[data-link]");
    i.hidden = false;
    i.value = location.href;
    i.select();
    note("Copy the selected link.");
  }
}

function networkStyles() {
  const out = [];
  for (const sheet of document.styleSheets) {
    let rules;
    try {
      rules = sheet.cssRules;
    } catch {
      continue;
    }
    for (const r of rules) if (r.selectorText && r.selectorText.includes(".net-svg")) out.push(r.cssText);
  }
  return out.join("\n");
}

// A standalone copy of the network SVG: styles inlined, the canvases under it (edges) and over
// it (maps) embedded as images (their pictures may come from the worker that draws them).
async function networkSVG(root) {
  const svg = root.querySelector("svg.net-svg");
  const copy = svg.cloneNode(true);
  const style = svgEl("style");
  style.textContent = networkStyles();
  copy.insertBefore(style, copy.firstChild);
  const bg = svgEl("rect", { width: "100%", height: "100%", fill: "#fff" });
  copy.insertBefore(bg, style.nextSibling);
  const image = async (c) => svgEl("image", { x: 0, y: 0, width: svg.getAttribute("width"), height: svg.getAttribute("height"), href: await c.snapshot() });
  const under = root.querySelector("canvas.net-edges");
  if (under) copy.insertBefore(await image(under), bg.nextSibling);
  const over = root.querySelector("canvas.net-maps");
  if (over) copy.querySelector(".neurons")?.appendChild(await image(over));
  return new XMLSerializer().serializeToString(copy);
}

export async function exportSVG(root) {
  download("deltaflow-network.svg", await networkSVG(root), "image/svg+xml");
}

export async function exportPNG(root) {
  const text = await networkSVG(root);
  const svg = root.querySelector("svg.net-svg");
  const w = +svg.getAttribute("width");
  const h = +svg.getAttribute("height");
  const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
  const img = new Image();
  img.onload = () => {
    const scale = 2;
    const c = document.createElement("canvas");
    c.width = w * scale;
    c.height = h * scale;
    const ctx = c.getContext("2d");
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0, w, h);
    URL.revokeObjectURL(url);
    c.toBlob((b) => download("deltaflow-network.png", b), "image/png");
  };
  img.src = url;
}
