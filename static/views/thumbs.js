// Small pictures of each preset's data for the preset picker, drawn from the generator's shape.

import { el } from "../util.js";

const A = "rgb(230,97,1)";
const B = "rgb(33,102,172)";
const C = "rgb(0,158,115)";

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function shape(name, r) {
  const pts = [];
  const n = 70;
  const g = () => (r() + r() + r() - 1.5) * 0.5;
  for (let k = 0; k < n; k++) {
    const t = r() * 2 * Math.PI;
    switch (name) {
      case "circle": {
        const inner = k % 2 === 0;
        const rad = inner ? r() * 0.45 : 0.65 + r() * 0.3;
        pts.push([rad * Math.cos(t), rad * Math.sin(t), inner ? A : B]);
        break;
      }
      case "xor": {
        const x = r() * 2 - 1;
        const y = r() * 2 - 1;
        pts.push([x, y, x * y > 0 ? A : B]);
        break;
      }
      case "gaussian": {
        const s = k % 2 ? 1 : -1;
        pts.push([0.45 * s + g(), 0.45 * s + g(), s > 0 ? A : B]);
        break;
      }
      case "three_class": {
        const c = k % 3;
        const a = (c * 2 * Math.PI) / 3 + 0.5;
        pts.push([0.55 * Math.cos(a) + g() * 0.8, 0.55 * Math.sin(a) + g() * 0.8, [A, B, C][c]]);
        break;
      }
      case "spiral": {
        const u = k / n;
        const s = k % 2 ? Math.PI : 0;
        const a = u * 3 * Math.PI + s;
        pts.push([0.9 * u * Math.cos(a), 0.9 * u * Math.sin(a), s ? A : B]);
        break;
      }
      case "moons": {
        const top = k % 2 === 0;
        const a = r() * Math.PI;
        pts.push(
          top ? [Math.cos(a) * 0.6 - 0.25, Math.sin(a) * 0.6 - 0.15, A] : [0.25 - Math.cos(a) * 0.6, 0.15 - Math.sin(a) * 0.6, B],
        );
        break;
      }
      case "regression_sine": {
        const x = r() * 2 - 1;
        pts.push([x, 0.7 * Math.sin(x * Math.PI) + g() * 0.1, B]);
        break;
      }
      case "regression_plane": {
        const x = r() * 2 - 1;
        const y = r() * 2 - 1;
        pts.push([x, y, x + y > 0 ? A : B]);
        break;
      }
    }
  }
  return pts;
}

const GATES = { and: [0, 0, 0, 1], or: [0, 1, 1, 1], xor_gate: [0, 1, 1, 0] };

// Drawn on the canvas, then shown as the background of a span in its place: a canvas on the page is a layer of
// its own, which the compositor places again at every frame the page draws.
export function drawThumb(canvas, doc) {
  paintThumb(canvas, doc);
  if (!canvas.__img) {
    canvas.__img = el("span", { class: "thumb", "aria-hidden": "true" });
    canvas.__img.style.width = `${canvas.width}px`;
    canvas.__img.style.height = `${canvas.height}px`;
    canvas.before(canvas.__img);
    canvas.hidden = true;
  }
  canvas.__img.style.backgroundImage = `url(${canvas.toDataURL()})`;
}

function paintThumb(canvas, doc) {
  const ctx = canvas.getContext("2d");
  const S = canvas.width;
  ctx.clearRect(0, 0, S, S);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, S, S);
  const gen = doc.data?.generator;
  const P = (x) => S / 2 + x * (S / 2 - 4);
  const dot = (x, y, c, rad = 1.7) => {
    ctx.fillStyle = c;
    ctx.beginPath();
    ctx.arc(P(x), P(-y), rad, 0, 2 * Math.PI);
    ctx.fill();
  };
  if (gen in GATES) {
    [[-0.6, -0.6], [-0.6, 0.6], [0.6, -0.6], [0.6, 0.6]].forEach(([x, y], k) => dot(x, y, GATES[gen][k] ? A : B, 5));
  } else if (gen === "encoder_8_3_8") {
    for (let k = 0; k < 8; k++) {
      ctx.fillStyle = A;
      ctx.fillRect(4 + k * ((S - 8) / 8), 4 + k * ((S - 8) / 8), (S - 8) / 8, (S - 8) / 8);
    }
    ctx.strokeStyle = "#999";
    ctx.strokeRect(4, 4, S - 8, S - 8);
  } else if (gen) {
    for (const [x, y, c] of shape(gen, rng(7))) dot(x, y, c);
  } else {
    // given data: a picture of the network itself
    const n = doc.layers || [2, 2];
    const X = (l) => 8 + (l * (S - 16)) / (n.length - 1);
    const Y = (l, j) => S / 2 + (j - (n[l] - 1) / 2) * 12;
    ctx.strokeStyle = "#999";
    for (let l = 1; l < n.length; l++)
      for (let j = 0; j < n[l]; j++)
        for (let i = 0; i < n[l - 1]; i++) {
          ctx.beginPath();
          ctx.moveTo(X(l - 1), Y(l - 1, i));
          ctx.lineTo(X(l), Y(l, j));
          ctx.stroke();
        }
    n.forEach((k, l) => {
      for (let j = 0; j < k; j++) {
        ctx.fillStyle = l === n.length - 1 ? A : B;
        ctx.beginPath();
        ctx.arc(X(l), Y(l, j), 3.5, 0, 2 * Math.PI);
        ctx.fill();
      }
    });
  }
}
