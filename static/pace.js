// One speed control over the whole range a class needs: phases per second (animate), then
// steps per second (train at a rate, 1 to 1,000), then flat out. The slider holds a position
// 0–100; these map it to a mode and a rate, on log scales so each decade gets the same room.

const PHASES = [0.5, 30]; // phases per second, positions 0–40
const STEPS = [1, 1000]; // steps per second, positions 41–99
const PHASE_END = 40;
export const FLAT_OUT = 100;
const logLerp = ([a, b], t) => a * (b / a) ** t;
const logPos = ([a, b], v) => Math.log(v / a) / Math.log(b / a);

// {mode: "animate", rate: phases/s} | {mode: "train", rate: steps/s} | {mode: "train", rate: null}
export function pace(pos) {
  const p = Math.max(0, Math.min(FLAT_OUT, pos));
  if (p <= PHASE_END) return { mode: "animate", rate: round(logLerp(PHASES, p / PHASE_END)) };
  if (p < FLAT_OUT) return { mode: "train", rate: round(logLerp(STEPS, (p - PHASE_END - 1) / (FLAT_OUT - PHASE_END - 2))) };
  return { mode: "train", rate: null };
}

export function position({ mode, rate }) {
  if (mode === "animate") return Math.round(PHASE_END * Math.max(0, Math.min(1, logPos(PHASES, rate))));
  if (rate === null) return FLAT_OUT;
  return PHASE_END + 1 + Math.round((FLAT_OUT - PHASE_END - 2) * Math.max(0, Math.min(1, logPos(STEPS, rate))));
}

// two significant digits: 0.5, 4, 12, 150, 1000
const round = (v) => Number(v.toPrecision(2));

export const DEFAULT_PACE = position({ mode: "animate", rate: 4 });

export function paceLabel(p) {
  if (p.mode === "animate") return `${p.rate} phases/s`;
  return p.rate === null ? "flat out" : `${p.rate} steps/s`;
}

// the play command for a pace
export function playCommand(p) {
  if (p.mode === "animate") return { type: "play", mode: "animate", speed: p.rate };
  return p.rate === null ? { type: "play", mode: "train", fps: 30 } : { type: "play", mode: "train", fps: 30, steps_per_second: p.rate };
}

// the nearest position in `mode`'s part of the range, for the Animate and Train buttons
export function into(pos, mode, last) {
  if (pace(pos).mode === mode) return pos;
  return last ?? (mode === "animate" ? DEFAULT_PACE : FLAT_OUT);
}
