// MathML written as text, for the explain panel (./equations.js, ./deltas.js), and a writer of
// the live numbers that notes where the page's own arithmetic and the server's disagree.

import { agrees } from "../math.js";
import { fmt } from "../util.js";

export const MAX_TERMS = 8;
// every text that reaches innerHTML below goes through esc: numbers, fixed words, and names the
// server validated against its lists (activations, losses); never a scenario's free text
export const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
export const mi = (s) => `<mi>${esc(s)}</mi>`;
export const mo = (s) => `<mo>${esc(s)}</mo>`;
export const mn = (s) => `<mn>${esc(s)}</mn>`;
export const row = (...xs) => `<mrow>${xs.join("")}</mrow>`;
export const frac = (a, b) => `<mfrac>${a}${b}</mfrac>`;
// A place where a long equation may wrap: at the top level of math() only, never inside a row.
export const BREAK = "\u2063wrap\u2063";
// An equation, in pieces that wrap (a new piece before each top-level "=" and at each BREAK),
// each a <math> of its own: MathML has no line breaking, so a narrow panel stacks the pieces.
export const math = (...xs) => {
  const pieces = [[]];
  xs.forEach((x, k) => {
    String(x)
      .split(BREAK)
      .forEach((part, n) => {
        if (n > 0 || (k > 0 && x === eq && pieces.at(-1).length)) pieces.push([]);
        if (part) pieces.at(-1).push(part);
      });
  });
  const full = pieces.filter((q) => q.length);
  if (full.length === 1) return `<math display="block">${full[0].join("")}</math>`;
  return `<div class="eqn">${full.map((q) => `<math>${q.join("")}</math>`).join("")}</div>`;
};
export const paren = (x) => row(mo("("), x, mo(")"));
export const up = (l) => paren(mn(l));
export const sym = (s, sub, l) =>
  l === undefined ? `<msub>${mi(s)}${sub}</msub>` : `<msubsup>${mi(s)}${sub}${up(l)}</msubsup>`;
export const idx = (...ks) => row(...ks.map((k, n) => (n ? mo(",") + mn(k) : mn(k))));
export const sum = (under) => `<munder>${mo("∑")}${mi(under)}</munder>`;
export const p = (s) => `<p>${s}</p>`;
export const eq = mo("=");
export const times = mo("·");
export const sep = mo(",") + `<mspace width="1em"></mspace>`;
export const OPS = new Set(["←", "−", "+", "=", "·", ",", "(", ")", "[", "]", ">", "∇", "∂", "′"]);
// space-separated tokens to MathML: numbers <mn>, operators <mo>, the rest <mi>
export const ml = (src) => row(...src.split(" ").map((t) => (/^[0-9.]+$/.test(t) ? mn(t) : OPS.has(t) ? mo(t) : mi(t))));


// num, terms and check for one store; begin() starts a fresh list of disagreements for one
// drawing, which check() fills
export function createWriter(store) {
  let warns = [];

  function num(v, wrap = false) {
    const s = fmt(v, store.view.digits || 4);
    if (!s.startsWith("−")) return mn(s);
    const inner = row(mo("−"), mn(s.slice(1)));
    return wrap ? paren(inner) : inner;
  }

  // a sum of products, cut short where it would not fit; with wrap, it may wrap before each +
  // (then it must be an argument of math() itself, not inside a row)
  function terms(list, wrap = false) {
    const shown = list.slice(0, MAX_TERMS).map((factors) => row(...factors.map((f, k) => (k ? times : "") + f)));
    if (list.length > MAX_TERMS) shown.push(mo("⋯"));
    return shown.join((wrap ? BREAK : "") + mo("+"));
  }

  function check(what, page, server) {
    if (!agrees(page, server, 1e-7)) {
      const D = store.view.digits || 4;
      warns.push(`${what}: the page gets ${fmt(page, D + 4)} but the server sent ${fmt(server, D + 4)}.`);
    }
  }

  const begin = () => (warns = []);
  return { num, terms, check, begin };
}
