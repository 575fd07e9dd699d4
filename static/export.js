// Sharing and export: the scenario as JSON, the session's events as JSON Lines, and the network
// picture as SVG or PNG (with the neuron maps and the page's network styles inlined).

import { download } from "./util.js";

function scenarioJSON(store) {
  return JSON.stringify(store.server.scenario, null, 2) + "\n";
}

export function exportScenario(store) {
  download(`${store.server.scenario.name || "scenario"}.json`, scenarioJSON(store), "application/json");
}

export function exportTrace(store) {
  download(`deltaflow-${store.server?.scenario.name || "trace"}.jsonl`, store.trace.join("\n") + "\n", "application/x-ndjson");
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

// A standalone copy of the network SVG: styles inlined, maps embedded as images.
function networkSVG(root) {
  const svg = root.querySelector("svg.net-svg");
  const copy = svg.cloneNode(true);
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  const style = document.createElementNS("http://www.w3.org/2000/svg", "style");
  style.textContent = networkStyles();
  copy.insertBefore(style, copy.firstChild);
  const bg = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  for (const [k, v] of Object.entries({ width: "100%", height: "100%", fill: "#fff" })) bg.setAttribute(k, v);
  copy.insertBefore(bg, style.nextSibling);
  const base = root.getBoundingClientRect();
  const layer = copy.querySelector(".neurons");
  root.querySelectorAll("canvas.nmap").forEach((c, k) => {
    const r = c.getBoundingClientRect();
    const img = document.createElementNS("http://www.w3.org/2000/svg", "image");
    const x = r.left - base.left;
    const y = r.top - base.top;
    const attrs = { x, y, width: r.width, height: r.height, href: c.toDataURL(), "clip-path": `url(#mapclip${k})` };
    for (const [a, v] of Object.entries(attrs)) img.setAttribute(a, v);
    const clip = document.createElementNS("http://www.w3.org/2000/svg", "clipPath");
    clip.id = `mapclip${k}`;
    const circ = document.createElementNS("http://www.w3.org/2000/svg", "circle");
    for (const [a, v] of Object.entries({ cx: x + r.width / 2, cy: y + r.height / 2, r: r.width / 2 })) circ.setAttribute(a, v);
    clip.appendChild(circ);
    copy.appendChild(clip);
    layer.appendChild(img);
  });
  return new XMLSerializer().serializeToString(copy);
}

export function exportSVG(root) {
  download("deltaflow-network.svg", networkSVG(root), "image/svg+xml");
}

export function exportPNG(root) {
  const text = networkSVG(root);
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
