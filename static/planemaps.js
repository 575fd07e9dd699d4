// What each neuron computes over the input plane, from a train frame's weights: the numbers
// app/session/maps.py pack() sends, computed here in float64 and written in the same binary
// layout (docs/protocol.md, "Binary maps"), so that decodeMaps reads them as the server's.
// Same grid, same subsampling of hidden maps, same quantization (round half to even, as np.rint).

export const OUTPUT_RES = 100;

// as maps.hidden_stride: hidden maps 50x50, then 25x25 beyond 16 neurons, 10x10 beyond 100
export function hiddenStride(hidden) {
  return hidden <= 16 ? 2 : hidden <= 100 ? 4 : 10;
}

// np.linspace(a, b, n): k * step + a, the last exactly b
function linspace(a, b, n) {
  const out = new Float64Array(n);
  const div = n - 1;
  const step = (b - a) / div;
  for (let k = 0; k < n; k++) out[k] = step === 0 ? (k / div) * (b - a) + a : k * step + a;
  if (n > 1) out[n - 1] = b;
  return out;
}

// res*res points (x1, x2) interleaved, row by row from the top (x2 = max), as maps.grid
export function grid(extent, res = OUTPUT_RES) {
  const x1 = linspace(extent[0], extent[1], res);
  const x2 = linspace(extent[3], extent[2], res);
  const pts = new Float64Array(res * res * 2);
  for (let r = 0; r < res; r++) {
    for (let c = 0; c < res; c++) {
      pts[2 * (r * res + c)] = x1[c];
      pts[2 * (r * res + c) + 1] = x2[r];
    }
  }
  return pts;
}

// f(z) of app/nn/activations.py over every value of `z`, in place (softmax is per point, below);
// one loop per function, so that each stays monomorphic
function activate(z, act) {
  const n = z.length;
  if (act === "tanh") for (let k = 0; k < n; k++) z[k] = Math.tanh(z[k]);
  else if (act === "sigmoid") {
    for (let k = 0; k < n; k++) {
      const e = Math.exp(-Math.abs(z[k])); // never overflows, as the server's
      const d = 1.0 + e;
      z[k] = z[k] >= 0 ? 1.0 / d : e / d;
    }
  } else if (act === "relu") for (let k = 0; k < n; k++) z[k] = z[k] > 0 || Number.isNaN(z[k]) ? z[k] : 0.0;
  else if (act === "leaky_relu") for (let k = 0; k < n; k++) z[k] = z[k] > 0 ? z[k] : 0.01 * z[k];
  else if (act !== "linear") throw new Error(`no activation ${act}`);
}

// softmax of each row of `z` (n rows of m), in place: e^(z - max) / sum
function softmax(z, n, m) {
  for (let p = 0; p < n * m; p += m) {
    let top = -Infinity;
    for (let j = p; j < p + m; j++) top = z[j] > top || Number.isNaN(z[j]) ? z[j] : top;
    let sum = 0.0;
    for (let j = p; j < p + m; j++) {
      z[j] = Math.exp(z[j] - top);
      sum += z[j];
    }
    for (let j = p; j < p + m; j++) z[j] /= sum;
  }
}

// a (n points x nIn, row-major) -> act(a W^T + b), n x nOut
function layer(a, n, w, b, act) {
  const nIn = w[0].length;
  const nOut = w.length;
  const W = Float64Array.from(w.flat());
  const z = new Float64Array(n * nOut);
  for (let p = 0; p < n; p++) {
    const ai = p * nIn;
    const zo = p * nOut;
    for (let j = 0; j < nOut; j++) {
      const wj = j * nIn;
      let s = 0.0;
      for (let i = 0; i < nIn; i++) s += a[ai + i] * W[wj + i];
      z[zo + j] = s + b[j];
    }
  }
  if (act === "softmax") softmax(z, n, nOut);
  else activate(z, act);
  return z;
}

// np.rint: to the nearest integer, a half to the even one (Math.round takes a half up)
export function rint(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// maps.quantize of the values `v` into `q`: [lo, hi]; a constant (or NaN) map is all zeros
export function quantize(v, q) {
  let lo = Infinity;
  let hi = -Infinity;
  let nan = false;
  for (let k = 0; k < v.length; k++) {
    const x = v[k];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
    if (x !== x) nan = true;
  }
  if (nan) lo = hi = NaN; // np.min and np.max propagate NaN
  if (!(hi > lo)) return [lo, lo];
  const scale = 255.0 / (hi - lo);
  for (let k = 0; k < v.length; k++) q[k] = rint((v[k] - lo) * scale);
  return [lo, hi];
}

// The binary maps message of a network ({activations, weights, biases}) over `extent`, as
// the server would send it with sequence number `seq` at `step`: an ArrayBuffer.
export function packMaps({ activations, weights, biases }, extent, seq, step) {
  const depth = weights.length;
  const sizes = [weights[0][0].length, ...weights.map((w) => w.length)];
  const hidden = sizes.slice(1, -1).reduce((x, y) => x + y, 0);
  const stride = hiddenStride(hidden);
  const resH = Math.floor(OUTPUT_RES / stride);
  const nOut = sizes[depth];
  const bytes = 16 + hidden * (16 + resH * resH) + nOut * (16 + OUTPUT_RES * OUTPUT_RES);
  const buf = new ArrayBuffer(bytes);
  const v = new DataView(buf);
  [0x44, 0x46, 0x4d, 0x31].forEach((c, k) => v.setUint8(k, c)); // "DFM1"
  v.setUint32(4, seq, true);
  v.setUint32(8, step, true);
  v.setUint16(12, hidden + nOut, true);
  v.setUint16(14, 0, true);
  const n = OUTPUT_RES * OUTPUT_RES;
  let a = grid(extent);
  let o = 16;
  for (let l = 1; l <= depth; l++) {
    a = layer(a, n, weights[l - 1], biases[l - 1], activations[l - 1]);
    const units = sizes[l];
    const res = l === depth ? OUTPUT_RES : resH;
    const s = l === depth ? 1 : stride;
    const vals = new Float64Array(res * res);
    for (let j = 0; j < units; j++) {
      // the map's pixel (r, c) is the grid's point (r*s, c*s)
      for (let r = 0; r < res; r++) {
        for (let c = 0; c < res; c++) vals[r * res + c] = a[(r * s * OUTPUT_RES + c * s) * units + j];
      }
      const q = new Uint8Array(buf, o + 16, res * res);
      const [lo, hi] = quantize(vals, q);
      v.setUint16(o, l, true);
      v.setUint16(o + 2, j, true);
      v.setUint16(o + 4, res, true);
      v.setUint16(o + 6, 0, true);
      v.setFloat32(o + 8, lo, true);
      v.setFloat32(o + 12, hi, true);
      o += 16 + res * res;
    }
  }
  return buf;
}
