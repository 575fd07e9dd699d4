// The explain panel's equations: the MathML behind a neuron, weight, bias or gradient check,
// filled in with the live numbers of the step. Numbers come from the server's events; the page
// re-derives f′(z) and the products of each sum, and notes (in `warns`) where they disagree.
// Loaded with the first selection (static/views/explain.js), not with the page.

import { ACT, agrees } from "../math.js";
import { biasHTML, weightHTML } from "../names.js";
import { fmt } from "../util.js";

const MAX_TERMS = 8;
// every text that reaches innerHTML below goes through esc: numbers, fixed words, and names the
// server validated against its lists (activations, losses); never a scenario's free text
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const mi = (s) => `<mi>${esc(s)}</mi>`;
const mo = (s) => `<mo>${esc(s)}</mo>`;
const mn = (s) => `<mn>${esc(s)}</mn>`;
const row = (...xs) => `<mrow>${xs.join("")}</mrow>`;
const frac = (a, b) => `<mfrac>${a}${b}</mfrac>`;
// A place where a long equation may wrap: at the top level of math() only, never inside a row.
const BREAK = "\u2063wrap\u2063";
// An equation, in pieces that wrap (a new piece before each top-level "=" and at each BREAK),
// each a <math> of its own: MathML has no line breaking, so a narrow panel stacks the pieces.
const math = (...xs) => {
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
const paren = (x) => row(mo("("), x, mo(")"));
const up = (l) => paren(mn(l));
const sym = (s, sub, l) =>
  l === undefined ? `<msub>${mi(s)}${sub}</msub>` : `<msubsup>${mi(s)}${sub}${up(l)}</msubsup>`;
const idx = (...ks) => row(...ks.map((k, n) => (n ? mo(",") + mn(k) : mn(k))));
const sum = (under) => `<munder>${mo("∑")}${mi(under)}</munder>`;
const p = (s) => `<p>${s}</p>`;
const eq = mo("=");
const times = mo("·");
const sep = mo(",") + `<mspace width="1em"></mspace>`;
const OPS = new Set(["←", "−", "+", "=", "·", ",", "(", ")", "[", "]", ">", "∇", "∂", "′"]);
// space-separated tokens to MathML: numbers <mn>, operators <mo>, the rest <mi>
const ml = (src) => row(...src.split(" ").map((t) => (/^[0-9.]+$/.test(t) ? mn(t) : OPS.has(t) ? mo(t) : mi(t))));

export function createEquations(store) {
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

  const inputs = (c, l, n) => (l === 1 ? c.batch.x[n] : c.forward[l - 1].a[n]);

  function neuron(c, l, j) {
    const L = store.layers.length - 1;
    const ex = store.sel();
    const out = [];
    if (l === 0) {
      out.push(`<h3>Input x<sub>${j + 1}</sub></h3>`);
      if (c?.batch) {
        out.push(math(sym("x", mn(j + 1)), eq, num(c.batch.x[ex][j])));
        const m = c.batch.x.length;
        out.push(p(`Example ${ex + 1} of a batch of ${m} (dataset row ${c.batch.indices[ex] + 1}).`));
      }
      const dx = c?.backward[1]?.delta_input;
      if (dx) {
        check(`∂E/∂x${j + 1}`, c.backward[1].delta[ex].reduce((s, d, k) => s + d * c.w0[0][k][j], 0), dx[ex][j]);
        out.push(
          p("The gradient of this example's loss with respect to the input: δ of layer 1 taken one layer further back."),
          math(
            frac(ml("∂ E"), row(mo("∂"), sym("x", mn(j + 1)))),
            eq,
            sum("k"),
            sym("w", row(mi("k"), mo(","), mn(j + 1)), 1),
            sym("δ", mi("k"), 1),
            eq,
            num(dx[ex][j]),
          ),
        );
      }
      return out.join("");
    }
    const act = store.acts[l - 1];
    out.push(`<h3>${l === L ? "Output" : "Hidden"} neuron ${j + 1} of layer ${l} <small>(${esc(act)})</small></h3>`);
    out.push(incoming(l, j));
    const fw = c?.forward[l];
    if (!fw) return out.join("") + p("Its values appear when the forward pass reaches this layer.");
    const a = fw.a[ex][j];
    const z = fw.z[ex][j];
    const xs = inputs(c, l, ex);
    const W = c.w0[l - 1];
    const b = c.b0[l - 1][j];
    const zPage = W[j].reduce((s, w, i) => s + w * xs[i], b);
    check(`z of neuron ${j + 1}`, zPage, z);
    const aName = l === 1 ? "x" : "a";
    out.push(
      p("Forward: the weighted sum of the layer below, plus the bias, then the activation."),
      math(
        sym("z", mn(j + 1), l),
        eq,
        sum("i"),
        sym("w", row(mn(j + 1), mo(","), mi("i")), l),
        sym(aName, mi("i"), l === 1 ? undefined : l - 1),
        mo("+"),
        sym("b", mn(j + 1), l),
      ),
      math(
        eq,
        terms(
          W[j].map((w, i) => [num(w, true), num(xs[i], true)]),
          true,
        ),
        BREAK,
        mo("+"),
        num(b, true),
        eq,
        num(z),
      ),
      act === "softmax" ? softmaxMath(fw.z[ex], l, j, a) : math(sym("a", mn(j + 1), l), eq, mi(act === "linear" ? "z" : act), paren(num(z)), eq, num(a)),
    );
    if (l === L && c.outErr) out.push(outputDelta(c, j, ex, act));
    else if (l < L && c.backward[l]) out.push(hiddenDelta(c, l, j, ex, act));
    else out.push(p("Its δ appears when the backward pass reaches this layer."));
    return out.join("");
  }

  // softmax takes the layer's whole vector z: each output is e^z_j over the sum of every e^z_k
  function softmaxMath(zs, l, j, a) {
    const e = (x) => `<msup>${mi("e")}${x}</msup>`;
    const exps = zs.map(Math.exp);
    const total = exps.reduce((s, v) => s + v, 0);
    const vec = row(mo("("), ...zs.map((z, k) => (k ? mo(",") : "") + num(z)), mo(")"));
    const out = [
      p(`Softmax is a function of the layer's whole vector z, not of one number: every output depends on all ${zs.length} of its z.`),
      math(sym("z", mi(""), l), eq, vec),
      math(sym("a", mn(j + 1), l), eq, `<msub>${row(mi("softmax"), paren(sym("z", mi(""), l)))}${mn(j + 1)}</msub>`, eq, frac(e(sym("z", mn(j + 1), l)), row(sum("k"), e(sym("z", mi("k"), l))))),
    ];
    if (Number.isFinite(total) && total > 0) {
      check(`softmax output ${j + 1}`, exps[j] / total, a);
      out.push(math(eq, frac(num(exps[j]), terms(exps.map((v) => [num(v)]))), eq, num(a)));
    } else {
      out.push(math(eq, num(a)));
    }
    return out.join("");
  }

  // its weights and bias as buttons: the keyboard's way to a weight (edges take only the mouse)
  function incoming(l, j) {
    const n = store.layers[l - 1];
    const b = `<button type="button" data-select="bias:${l}:${j}">${biasHTML(l, j)}</button>`;
    const ws = Array.from(
      { length: n },
      (_, i) =>
        `<button type="button" data-select="weight:${l}:${j}:${i}" ` +
        `aria-label="weight into neuron ${j + 1} of layer ${l} from unit ${i + 1}">${weightHTML(l, j, i)}</button>`,
    );
    return `<p class="incoming">Explain: ${ws.join(" ")} ${b}</p>`;
  }

  function fprime(act, z, a) {
    return ACT[act].df(z, a);
  }

  // the local derivative with its numbers: the one term of the chain rule each neuron adds
  function fprimeMath(act, z, a) {
    const fp = fprime(act, z, a);
    const lhs = row(ml("f ′ ( z ) ="), ml(ACT[act].tex));
    const by = {
      sigmoid: () => row(num(a, true), times, paren(row(mn(1), mo("−"), num(a, true)))),
      tanh: () => row(mn(1), mo("−"), `<msup>${paren(num(a))}${mn(2)}</msup>`),
    }[act];
    return math(lhs, by ? row(eq, by()) : "", eq, num(fp)) + p(`The derivative of ${esc(act)} at this neuron's z.`);
  }

  function outputDelta(c, j, ex, act) {
    const oe = c.outErr;
    const loss = store.server.scenario.loss;
    const a = oe.output[ex][j];
    const t = oe.target[ex][j];
    const d = oe.delta[ex][j];
    const z = c.forward[c.forward.length - 1].z[ex][j];
    const out = [p("Output error: the loss of this example, and how fast it changes with z.")];
    const E = oe.losses[ex];
    if (loss === "squared_error") {
      out.push(
        math(
          mi("E"),
          eq,
          frac(mn(1), mn(2)),
          sum("k"),
          `<msup>${paren(row(sym("a", mi("k")), mo("−"), sym("t", mi("k"))))}${mn(2)}</msup>`,
          eq,
          num(E),
        ),
      );
    } else if (loss === "binary_cross_entropy") {
      out.push(math(ml("E = −"), sum("k"), paren(ml("t log a + ( 1 − t ) log ( 1 − a )")), eq, num(E)));
    } else {
      out.push(math(ml("E = −"), sum("k"), sym("t", mi("k")), mi("log"), sym("a", mi("k")), eq, num(E)));
    }
    if (oe.losses.length > 1) {
      out.push(
        p(`The cost C is the mean over the batch of ${oe.losses.length}:`),
        math(ml("C ="), frac(mn(1), mi("m")), sum("n"), sym("E", mi("n")), eq, num(oe.loss)),
      );
    }
    const dName = sym("δ", mn(j + 1), store.layers.length - 1);
    if (loss === "squared_error") {
      const dE = oe.dloss[ex][j];
      const fp = fprime(act, z, a);
      check("∂E/∂a", a - t, dE);
      check(`δ of output ${j + 1}`, dE * fp, d);
      out.push(
        p("Chain rule: E depends on z only through a."),
        math(dName, eq, frac(ml("∂ E"), ml("∂ a")), times, ml("f ′ ( z )")),
        math(eq, paren(row(num(a), mo("−"), num(t, true))), times, num(fp, true)),
        math(eq, num(dE, true), times, num(fp, true), eq, num(d)),
        fprimeMath(act, z, a),
      );
    } else {
      // softmax + cross entropy: ∂E/∂z = a Σt − t, which is a − t only when the targets sum to 1
      const st = loss === "cross_entropy" ? oe.target[ex].reduce((s, v) => s + v, 0) : 1;
      check(`δ of output ${j + 1}`, a * st - t, d);
      if (st === 1) {
        out.push(
          p(`With ${esc(act)} and ${esc(loss.replaceAll("_", " "))}, ∂E/∂a · f′(z) simplifies to a − t:`),
          math(dName, eq, row(mi("a"), mo("−"), mi("t")), eq, num(a), mo("−"), num(t, true), eq, num(d)),
        );
      } else {
        out.push(
          p(`With softmax and cross entropy, ∂E/∂z is a Σ t − t; this example's targets sum to ${fmt(st, 6)}, not 1:`),
          math(dName, eq, mi("a"), sum("k"), sym("t", mi("k")), mo("−"), mi("t")),
          math(eq, num(a), times, num(st, true), mo("−"), num(t, true), eq, num(d)),
        );
      }
    }
    return out.join("");
  }

  function hiddenDelta(c, l, j, ex, act) {
    const next = c.backward[l + 1];
    const W = c.w0[l]; // the weights out of layer l, before this step's update
    const z = c.forward[l].z[ex][j];
    const a = c.forward[l].a[ex][j];
    const fp = fprime(act, z, a);
    const dk = next.delta[ex];
    const s = W.reduce((acc, wk, k) => acc + wk[j] * dk[k], 0);
    const d = c.backward[l].delta[ex][j];
    check(`δ of neuron ${j + 1}`, fp * s, d);
    return (
      p(
        "Backward, by the chain rule: z reaches E only through every z<sub>k</sub> of the next layer, " +
          "so δ sums what comes back along each outgoing weight (taken before the update).",
      ) +
      math(
        sym("δ", mn(j + 1), l),
        eq,
        row(mi("f"), mo("′"), paren(sym("z", mn(j + 1)))),
        sum("k"),
        sym("w", row(mi("k"), mo(","), mn(j + 1)), l + 1),
        sym("δ", mi("k"), l + 1),
      ) +
      math(
        eq,
        num(fp, true),
        times,
        mo("("),
        terms(
          W.map((wk, k) => [num(wk[j], true), num(dk[k], true)]),
          true,
        ),
        mo(")"),
        eq,
        num(fp, true),
        times,
        num(s, true),
        eq,
        num(d),
      ) +
      fprimeMath(act, z, a)
    );
  }

  function weight(c, l, j, i) {
    const out = [
      `<h3>Weight ${weightHTML(l, j, i)} ` +
        `<small>into neuron ${j + 1} of layer ${l} from unit ${i + 1} of layer ${l - 1}</small></h3>`,
    ];
    const w = store.weights[l - 1][j][i];
    const back = c?.backward[l];
    const wName = sym("w", idx(j + 1, i + 1), l);
    if (!back) {
      out.push(math(wName, eq, num(w)), p("Its gradient appears when the backward pass reaches this layer."));
      return out.join("") + slice(l, j, i);
    }
    const m = back.delta.length;
    const w0 = c.w0[l - 1][j][i];
    const g = back.grad_w[j][i];
    const prods = back.delta.map((dn, n) => [dn[j], inputs(c, l, n)[i]]);
    const reg = store.server.scenario.regularization || { type: "none", rate: 0 };
    const regTerm = reg.type === "l2" ? reg.rate * w0 : reg.type === "l1" ? reg.rate * Math.sign(w0) : 0;
    const gPage = prods.reduce((s, [d, x]) => s + d * x, 0) / m + regTerm;
    check("∂C/∂w", gPage, g);
    const aName = l === 1 ? "x" : "a";
    const regSym = { l2: ml("+ λ w"), l1: ml("+ λ sign ( w )") }[reg.type] || "";
    const regNum = regSym ? row(mo("+"), num(regTerm, true)) : "";
    out.push(
      p(`Gradient: the mean over the batch (m = ${m}) of δ<sub>j</sub> times the input it multiplies.`),
      math(
        frac(row(mo("∂"), mi("C")), row(mo("∂"), wName)),
        eq,
        frac(mn(1), mi("m")),
        sum("n"),
        sym("δ", mn(j + 1), l),
        sym(aName, mn(i + 1), l === 1 ? undefined : l - 1),
        regSym,
      ),
      math(
        eq,
        m > 1 ? frac(mn(1), mn(m)) : "",
        m > 1 ? mo("(") : "",
        terms(
          prods.map(([d, x]) => [num(d, true), num(x, true)]),
          true,
        ),
        m > 1 ? mo(")") : "",
        BREAK,
        regNum,
        eq,
        num(g),
      ),
    );
    const upd = c.update[l];
    if (upd) out.push(updateRule(w0, g, upd.dw[j][i], upd.weights[j][i], "w", l));
    else out.push(p("The update follows once the backward pass is done."));
    out.push(matrixForm(c, l, m));
    return out.join("") + slice(l, j, i);
  }

  // a parameter training leaves alone: named in `frozen`, or the bias of a `bias_free` layer
  function frozen(x, l) {
    const s = store.server.scenario;
    return (s.frozen || []).includes(`${x === "w" ? "W" : "b"}${l}`) || (x === "b" && (s.bias_free || []).includes(l));
  }

  function updateRule(w0, g, dw, w1, x = "w", l = 0) {
    if (l && frozen(x, l)) {
      check(`${x} after the update`, w0, w1);
      return (
        p(`Frozen: the optimizer gets a zero gradient for ${x === "w" ? "W" : "b"}${l}, so Δ${x} = 0 and it keeps its value.`) +
        math(ml(`${x} =`), num(w1))
      );
    }
    const o = store.server.scenario.optimizer;
    const eta = o.learning_rate;
    const gs = frac(ml("∂ C"), ml(`∂ ${x}`));
    const applied = row(num(w0), mo("+"), num(dw, true), eq, num(w1));
    const out = [];
    if (o.type === "sgd") {
      check(`${x} after the update`, w0 - eta * g, w1);
      out.push(
        p("Update, plain gradient descent: a step against the gradient, scaled by the learning rate η."),
        math(ml(`${x} ← ${x} − η`), gs, eq, num(w0), mo("−"), num(eta, true), times, num(g, true), eq, num(w1)),
      );
    } else if (o.type === "momentum") {
      out.push(
        p(`Update with momentum (μ = ${esc(o.momentum ?? 0.9)}): the velocity v keeps a decaying sum of past steps.`),
        math(ml("v ← μ v − η"), gs, sep, ml(`${x} ← ${x} + v`)),
        math(ml("v ="), num(dw), sep, ml(`${x} =`), applied),
      );
    } else if (o.type === "adam") {
      const hat = (x) => `<mover>${mi(x)}${mo("^")}</mover>`;
      const beta = (k) => sym("β", mn(k));
      out.push(
        p(
          "Update with Adam: running means of the gradient and of its square, " +
            "corrected for their start at 0, set a step per weight.",
        ),
        math(ml("m ←"), beta(1), ml("m + ( 1 −"), beta(1), ml(") g")),
        math(ml("v ←"), beta(2), ml("v + ( 1 −"), beta(2), mo(")"), `<msup>${mi("g")}${mn(2)}</msup>`),
        math(ml(`${x} ← ${x} − η`), frac(hat("m"), row(`<msqrt>${hat("v")}</msqrt>`, ml("+ ε")))),
        math(ml("g ="), num(g), sep, ml(`Δ${x} =`), num(dw), sep, ml(`${x} =`), applied),
      );
    } else {
      out.push(
        p(
          `Update with L-BFGS (memory ${esc(o.memory ?? 10)}): a quasi-Newton direction from the last gradient ` +
            "differences (the two-loop recursion), then a backtracking line search from t = η.",
        ),
        math(ml("d = −"), `<msup>${mi("H")}${ml("− 1")}</msup>`, ml("∇ C"), sep, ml(`${x} ← ${x} + t d`)),
        math(ml(`Δ${x} =`), num(dw), sep, ml(`${x} =`), applied),
      );
    }
    check(`${x} + Δ${x}`, w0 + dw, w1);
    return out.join("");
  }

    function matrix(rows) {
    const tr = (r) => `<mtr>${r.map((v) => `<mtd>${num(v)}</mtd>`).join("")}</mtr>`;
    return row(mo("["), `<mtable>${rows.map(tr).join("")}</mtable>`, mo("]"));
  }

  function matrixForm(c, l, m) {
    const back = c.backward[l];
    const nl = back.grad_w.length;
    const nk = back.grad_w[0].length;
    const A = back.delta.map((_, n) => inputs(c, l, n));
    const Delta = back.delta;
    const head = p(`The whole layer at once: Δ holds a row of δ per example (${m} × ${nl}), A the inputs (${m} × ${nk}).`);
    const sym2 = math(
      `<msup>${row(mi("d"), mi("W"))}${up(l)}</msup>`,
      eq,
      frac(mn(1), mi("m")),
      `<msup>${mi("Δ")}${row(up(l), mi("⊤"))}</msup>`,
      `<msup>${mi("A")}${up(l - 1)}</msup>`,
    );
    if (nl * m > 16 || nk * m > 16 || nl * nk > 16) return head + sym2;
    const DT = Delta[0].map((_, j) => Delta.map((r) => r[j]));
    return head + sym2 + math(eq, m > 1 ? frac(mn(1), mn(m)) : "", matrix(DT), matrix(A), eq, matrix(back.grad_w));
  }

  // A finished step keeps the slice taken before its update, so the tangent matches its gradient.
  function sliceStale(sel) {
    const s = store.slice;
    if (!s || s.layer !== sel.l || s.to !== sel.j || s.from !== sel.i) return true;
    const c = store.cur;
    if (c && c.update[store.layers.length - 1] && s.step === c.step - 1) return false;
    return s.step !== store.server.step;
  }

  function slice(l, j, i) {
    const s = store.slice;
    if (!s || s.layer !== l || s.to !== j || s.from !== i) return `<p class="hint">Loading the cost along this weight…</p>`;
    const c = store.cur;
    const before = c && s.step === c.step - 1;
    if (before && c.backward[l]) check("the tangent's slope", s.grad, c.backward[l].grad_w[j][i]);
    const when = before
      ? `on this step's batch, before its update`
      : `at the weights of step ${s.step}, on the batch of the next step`;
    const Wd = 280;
    const Hd = 120;
    const lo = Math.min(...s.costs);
    const hi = Math.max(...s.costs);
    const X = (w) => 6 + ((w - s.ws[0]) / (s.ws[s.ws.length - 1] - s.ws[0])) * (Wd - 12);
    const Y = (v) => Hd - 14 - ((v - lo) / (hi - lo || 1)) * (Hd - 28);
    const path = s.ws.map((w, k) => `${k ? "L" : "M"}${X(w).toFixed(1)},${Y(s.costs[k]).toFixed(1)}`).join("");
    const dx = (s.ws[s.ws.length - 1] - s.ws[0]) / 4;
    const D = store.view.digits || 4;
    return (
      `<h4>The cost along this weight</h4>` +
      `<svg class="slice" width="${Wd}" height="${Hd}" role="img" ` +
      `aria-label="Cost as a function of the weight, with the tangent">` +
      `<path d="${path}" class="curve"/>` +
      `<line class="tangent" x1="${X(s.w - dx)}" y1="${Y(s.cost - s.grad * dx)}" ` +
      `x2="${X(s.w + dx)}" y2="${Y(s.cost + s.grad * dx)}"/>` +
      `<circle cx="${X(s.w)}" cy="${Y(s.cost)}" r="4" class="here"/>` +
      `<text x="6" y="${Hd - 2}">${esc(fmt(s.ws[0], 3))}</text>` +
      `<text x="${Wd - 6}" y="${Hd - 2}" text-anchor="end">${esc(fmt(s.ws[s.ws.length - 1], 3))}</text>` +
      `</svg>` +
      p(
        `C(w) ${when}, holding every other weight fixed. The tangent's slope is ∂C/∂w = ${esc(fmt(s.grad, D))}: ` +
          `how fast the cost changes when w changes. At w = ${esc(fmt(s.w, D))}, C = ${esc(fmt(s.cost, D))}.`,
      )
    );
  }

  function bias(c, l, j) {
    const out = [`<h3>Bias ${biasHTML(l, j)}</h3>`];
    if ((store.server.scenario.bias_free || []).includes(l)) {
      out.push(p(`Layer ${l} has no bias (bias_free): b is 0 and never changes.`));
    }
    const back = c?.backward[l];
    const bName = sym("b", mn(j + 1), l);
    out.push(math(bName, eq, num(store.biases[l - 1][j])));
    if (!back) return out.join("") + p("Its gradient appears when the backward pass reaches this layer.");
    const m = back.delta.length;
    const gPage = back.delta.reduce((s, d) => s + d[j], 0) / m;
    check("∂C/∂b", gPage, back.grad_b[j]);
    out.push(
      p("A bias is a weight on a constant input 1, so its gradient is the batch mean of δ."),
      math(frac(ml("∂ C"), row(mo("∂"), bName)), eq, frac(mn(1), mi("m")), sum("n"), sym("δ", mn(j + 1), l)),
      math(eq, num(back.grad_b[j])),
    );
    const upd = c.update[l];
    if (upd) out.push(updateRule(c.b0[l - 1][j], back.grad_b[j], upd.db[j], upd.biases[j], "b", l));
    return out.join("");
  }

  function gradcheck() {
    const gc = store.gradcheck;
    if (!gc) return "";
    const e = gc.max_rel_error;
    const verdict = e < 1e-7 ? "agree" : e < 1e-4 ? "roughly agree" : "disagree";
    const rows = gc.layers
      .map((L) => {
        const mw = Math.max(...L.rel_error_w.flat(), ...L.rel_error_b);
        return `<tr><td>${L.layer}</td><td>${esc(fmt(mw, 2))}</td></tr>`;
      })
      .join("");
    return (
      `<section class="gradcheck" data-gradcheck><h3>Gradient check (step ${gc.step})</h3>` +
      p(
        `Every analytic gradient against central differences with ε = ${esc(fmt(gc.epsilon, 2))}: ` +
          `maximum relative error <strong>${esc(fmt(e, 2))}</strong>, so they ${verdict}.`,
      ) +
      `<table><thead><tr><th>layer</th><th>max relative error</th></tr></thead><tbody>${rows}</tbody></table></section>`
    );
  }

  // begin(): a fresh list of disagreements for one drawing, which check() fills
  const begin = () => (warns = []);
  return { begin, neuron, weight, bias, gradcheck, sliceStale };
}
