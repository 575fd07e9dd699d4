// The few formulas the page re-derives to explain and cross-check the server's numbers.

export const ACT = {
  sigmoid: { f: (z) => 1 / (1 + Math.exp(-z)), df: (z, a) => a * (1 - a), tex: "a ( 1 − a )" },
  tanh: { f: Math.tanh, df: (z, a) => 1 - a * a, tex: "1 − a²" },
  relu: { f: (z) => Math.max(z, 0), df: (z) => (z > 0 ? 1 : 0), tex: "[ z > 0 ]" },
  leaky_relu: { f: (z) => (z > 0 ? z : 0.01 * z), df: (z) => (z > 0 ? 1 : 0.01), tex: "1 if z > 0 else 0.01" },
  linear: { f: (z) => z, df: () => 1, tex: "1" },
  softmax: { f: null, df: null, tex: "" },
};

// Value range of bounded activations, for colouring; null where unbounded.
export const RANGE = { sigmoid: [0, 1], tanh: [-1, 1], softmax: [0, 1] };

export const norm = (M) => Math.sqrt(M.reduce((s, row) => s + row.reduce((t, v) => t + v * v, 0), 0));

// Relative agreement, tolerant of the float noise of a different summation order.
export function agrees(a, b, tol = 1e-9) {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
}
