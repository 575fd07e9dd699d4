// The explain panel's error terms: a neuron's δ at the output (from the loss) and in a hidden
// layer (by the chain rule), f′(z) with its numbers, and softmax over the layer's whole z.
// Numbers come from the server's events; check() notes where the page's arithmetic differs.

import { ACT } from "../math.js";
import { fmt } from "../util.js";
import { esc, mi, mo, mn, row, frac, math, paren, sym, sum, p, eq, times, ml } from "./mathml.js";

export function createDeltas(store, { num, terms, check }) {
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

  return { softmaxMath, outputDelta, hiddenDelta };
}
