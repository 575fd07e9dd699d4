// The network view's canvases drawn from a list of commands: in the page, or in a worker
// (./paint-worker.js) on canvases handed over with transferControlToOffscreen, so that their
// raster leaves the main thread. Also the page's colour scale. No DOM here.

// Diverging blue–white–orange (colour-blind safe); t in [-1, 1], centred at 0.
const NEG = [33, 102, 172];
const MID = [247, 247, 247];
const POS = [230, 97, 1];

export function mix(t) {
  const c = t < 0 ? NEG : POS;
  const u = Math.min(1, Math.abs(t));
  return [0, 1, 2].map((k) => Math.round(MID[k] + (c[k] - MID[k]) * u));
}

// 256 packed RGBA colours for quantized map values q: value = lo + (hi - lo) q / 255.
export function lut(lo, hi, centre, scale, out = new Uint32Array(256)) {
  for (let q = 0; q < 256; q++) {
    const v = lo + ((hi - lo) * q) / 255;
    const [r, g, b] = mix(Math.max(-1, Math.min(1, (v - centre) / scale)));
    out[q] = (255 << 24) | (b << 16) | (g << 8) | r;
  }
  return out;
}

// the band's fill for each phase (the page's palette)
const BAND = { backward: "#efe3f6", update: "#dff1e7", output_error: "#fde3d6" };
const PULSE = { forward: "#111", backward: "#7b3294" };

// under: the edges' canvas, over: the maps'; make(): a small canvas for one neuron's pixels
export function createPainter(under, over, make) {
  const ctx = under.getContext("2d");
  const mctx = over.getContext("2d");
  const own = new Map(); // each neuron's coloured map, by its key
  const buf = new Uint32Array(256);
  let W = 0;
  let H = 0;

  function line(x1, y1, x2, y2, width, colour, alpha, dash, cap) {
    ctx.globalAlpha = alpha;
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.lineCap = cap;
    ctx.setLineDash(dash || []);
    ctx.beginPath();
    ctx.moveTo(x1, y1);
    ctx.lineTo(x2, y2);
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  // ops: a flat list, each command a name then its arguments (../views/netlayers.js writes it)
  function run(ops) {
    for (let k = 0; k < ops.length; ) {
      const op = ops[k++];
      if (op === "c") ctx.clearRect(0, 0, W, H);
      else if (op === "b") {
        const [x, y, w, h, phase] = ops.slice(k, (k += 5));
        ctx.fillStyle = BAND[phase] || "#fff3c4";
        ctx.beginPath();
        ctx.roundRect(x, y, w, h, 8);
        ctx.fill();
      } else if (op === "l") line(...ops.slice(k, (k += 9)));
      else if (op === "p") {
        // the part of an edge from a to b (fractions of its length): a pulse along it
        const [x1, y1, x2, y2, a, b, phase] = ops.slice(k, (k += 7));
        const lo = Math.max(0, a);
        const hi = Math.min(1, b);
        const at = (t, p, q) => p + (q - p) * t;
        if (hi > lo) line(at(lo, x1, x2), at(lo, y1, y2), at(hi, x1, x2), at(hi, y1, y2), 6, PULSE[phase] || PULSE.forward, 1, null, "round");
      }
    }
  }

  // every neuron's map at (x, y), m wide: {key, x, y, m, scale, map}; a map (res, lo, hi, data)
  // only when it is new. Its pixels outside its circle are left clear: drawn with no clip path.
  function maps(list) {
    mctx.clearRect(0, 0, W, H);
    for (const { key, x, y, m, scale, map } of list) {
      let o = own.get(key);
      if (map) {
        const R = map.res;
        if (!o || o.c.width !== R) {
          const c = make(R);
          const cx = c.getContext("2d");
          o = { c, cx, img: cx.createImageData(R, R) };
          own.set(key, o);
        }
        lut(map.lo, map.hi, 0, scale, buf);
        const px = new Uint32Array(o.img.data.buffer);
        const d = map.data;
        const c = R / 2;
        for (let k = 0; k < d.length; k++) px[k] = ((k % R) + 0.5 - c) ** 2 + (((k / R) | 0) + 0.5 - c) ** 2 <= c * c ? buf[d[k]] : 0;
        o.cx.putImageData(o.img, 0, 0);
      }
      if (o) mctx.drawImage(o.c, x - m / 2, y - m / 2, m, m);
    }
  }

  return {
    // each canvas at the device's pixels (d each CSS pixel), drawn in CSS pixels
    resize(w, h, d) {
      W = w;
      H = h;
      for (const [c, x] of [
        [under, ctx],
        [over, mctx],
      ]) {
        c.width = Math.max(1, Math.round(w * d));
        c.height = Math.max(1, Math.round(h * d));
        x.setTransform(d, 0, 0, d, 0, 0);
      }
      own.clear();
    },
    run,
    maps,
  };
}
