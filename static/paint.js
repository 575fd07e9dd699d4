// The network view's canvases drawn from commands, in the page or in ./paint-worker.js (whose
// raster leaves the main thread); and the page's colour scale. No DOM here.

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
    const t = Math.max(-1, Math.min(1, (lo + ((hi - lo) * q) / 255 - centre) / scale));
    const c = t < 0 ? NEG : POS; // mix(t), without its arrays
    let p = 255 << 24;
    for (let k = 0; k < 3; k++) p |= Math.round(247 + (c[k] - 247) * Math.abs(t)) << (8 * k);
    out[q] = p;
  }
  return out;
}

// the band's fill for each phase, by its number in the commands (netlayers.js PHASES)
const BAND = ["#fff3c4", "#fff3c4", "#fde3d6", "#efe3f6", "#dff1e7"];
const COLOUR = ["rgb(33,102,172)", "rgb(230,97,1)", "#111", "#7b3294"]; // w < 0, w >= 0, pulses
const DASH = [[], [5, 3], [5, 4], []]; // solid, frozen, gradient, pulse

// under: the edges' canvas, over: the maps'; make(): a small canvas for one neuron's pixels
export function createPainter(under, over, make) {
  const ctx = under.getContext("2d");
  const mctx = over.getContext("2d");
  const own = new Map(); // each neuron's coloured map, by its key
  const buf = new Uint32Array(256);
  const disc = {}; // by width: the pixels in a map's circle
  let W = 0;
  let H = 0;

  // ops: numbers, a code then its arguments: 0 clear; 1 band x y w h phase;
  // 2 line x1 y1 x2 y2 width colour alpha dash
  function run(ops) {
    for (let k = 0; k < ops.length; ) {
      const op = ops[k++];
      if (op === 0) ctx.clearRect(0, 0, W, H);
      else if (op === 1) {
        ctx.fillStyle = BAND[ops[k + 4]];
        ctx.beginPath();
        ctx.roundRect(ops[k], ops[k + 1], ops[k + 2], ops[k + 3], 8);
        ctx.fill();
        k += 5;
      } else {
        const [x1, y1, x2, y2, width, colour, alpha, dash] = ops.subarray(k, (k += 8));
        ctx.globalAlpha = alpha;
        ctx.strokeStyle = COLOUR[colour];
        ctx.lineWidth = width;
        // a solid edge's ends lie under its neurons: butt ends raster faster
        ctx.lineCap = dash % 2 ? "round" : "butt";
        ctx.setLineDash(DASH[dash]);
        ctx.beginPath();
        ctx.moveTo(x1, y1);
        ctx.lineTo(x2, y2);
        ctx.stroke();
      }
    }
    ctx.globalAlpha = 1;
  }

  // [{key, x, y, m (wide), scale, map}], map only when new; cut to its circle here: no clip path
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
        const inside = (disc[R] ??= Uint8Array.from(d, (_, k) => ((k % R) + 0.5 - c) ** 2 + (((k / R) | 0) + 0.5 - c) ** 2 <= c * c));
        for (let k = 0; k < d.length; k++) px[k] = inside[k] ? buf[d[k]] : 0;
        o.cx.putImageData(o.img, 0, 0);
      }
      if (o) mctx.drawImage(o.c, x - m / 2, y - m / 2, m, m);
    }
  }

  return {
    // d device pixels a CSS pixel
    resize(w, h, d) {
      W = w;
      H = h;
      for (const x of [ctx, mctx]) {
        x.canvas.width = Math.max(1, Math.round(w * d));
        x.canvas.height = Math.max(1, Math.round(h * d));
        x.setTransform(d, 0, 0, d, 0, 0);
      }
      own.clear();
    },
    // one draw's commands, and its maps if any
    draw(m) {
      run(m.ops);
      if (m.list) maps(m.list);
    },
  };
}
