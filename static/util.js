// Small helpers shared by every view: elements, cached attribute writes, numbers, colours.

// the SVG namespace, as the HTML parser assigns it (no URL written out in the page's code)
const tpl = document.createElement("template");
tpl.innerHTML = "<svg></svg>";
const SVG = tpl.content.firstChild.namespaceURI;

export function el(tag, attrs = {}, parent = null, text = null) {
  const e = document.createElement(tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== null) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

export function svgEl(tag, attrs = {}, parent = null) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

// Writes an attribute only when it changed: untouched attributes cost no style recalc.
export function attr(e, name, value) {
  const c = e.__c || (e.__c = {});
  const v = String(value);
  if (c[name] !== v) {
    c[name] = v;
    e.setAttribute(name, v);
  }
}

// Changes the one text node in place: a new node costs a style recalc and more layout.
export function setText(e, value) {
  const v = String(value);
  const f = e.firstChild;
  if (f && f.nodeType === 3 && !f.nextSibling) {
    if (f.data !== v) f.data = v;
  } else if (e.textContent !== v) e.textContent = v;
}

export function text(e, value) {
  const v = String(value);
  if (e.__t !== v) {
    e.__t = v;
    setText(e, v);
  }
}

export function show(e, on) {
  attr(e, "visibility", on ? "visible" : "hidden");
}

// Significant digits, without exponent noise for ordinary magnitudes.
export function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "—";
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "∞" : "−∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  let s = a >= 1e-4 && a < 1e6 ? String(+v.toPrecision(digits)) : v.toExponential(digits - 1);
  return s.replace(/-/g, "−");
}

export const clamp = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);
export const lerp = (a, b, t) => a + (b - a) * t;

import { mix } from "./paint.js";

export { lut } from "./paint.js";

const STEPS = 200;
const CSS = [];
for (let k = 0; k <= STEPS; k++) {
  const [r, g, b] = mix((k / STEPS) * 2 - 1);
  CSS.push(`rgb(${r},${g},${b})`);
}

export function divColor(t) {
  if (!Number.isFinite(t)) return "#888";
  return CSS[Math.round((clamp(t, -1, 1) + 1) * (STEPS / 2))];
}

export const signColor = (v) => (v < 0 ? "rgb(33,102,172)" : "rgb(230,97,1)");

export function download(name, data, type) {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const a = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// A canvas sized for the device pixel ratio; returns its 2-D context scaled to CSS pixels.
export function fitCanvas(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  const W = Math.max(1, Math.round(w * dpr));
  const H = Math.max(1, Math.round(h * dpr));
  if (canvas.width !== W || canvas.height !== H) {
    canvas.width = W;
    canvas.height = H;
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}
