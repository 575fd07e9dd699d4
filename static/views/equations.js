// The explain panel's equations: the MathML behind a neuron, weight, bias or gradient check,
// filled in with the live numbers of the step. Numbers come from the server's events; the page
// re-derives f′(z) and the products of each sum, and notes (in `warns`) where they disagree. The
// MathML pieces are in ./mathml.js, the error terms δ in ./deltas.js.
// Loaded with the first selection (static/views/explain.js), not with the page.

import { biasHTML, weightHTML } from "../names.js";
import { fmt } from "../util.js";
import { createDeltas } from "./deltas.js";
import { BREAK, createWriter, eq, esc, frac, idx, math, mi, ml, mn, mo, p, paren, row, sep, sum, sym, times, up } from "./mathml.js";

export function createEquations(store) {
  const { num, terms, check, begin } = createWriter(store);
  const { softmaxMath, outputDelta, hiddenDelta } = createDeltas(store, { num, terms, check });

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
    if (store.fast) return `<p class="hint">The cost along this weight: pause, or slow down, to see it.</p>`;
    const s = store.slice;
    if (!s || s.layer !== l || s.to !== j || s.from !== i) {
      // a room's viewer asks for none (explain.js): it comes with its own run
      if (store.room?.role === "viewer") return `<p class="hint">The cost along this weight: Explore on my own to see it.</p>`;
      return `<p class="hint">Loading the cost along this weight…</p>`;
    }
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

  return { begin, neuron, weight, bias, gradcheck, sliceStale };
}
