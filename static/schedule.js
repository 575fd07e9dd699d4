// A view draws when a topic of it changed, while on screen, and while playing only on the ticks
// of one clock, every `every` ms (250: every 3rd tick): at most 10 frames a second, each costing a
// paint and a commit. What a view skipped waits for it.

// what a person just did, or a whole new state: drawn at once, whatever the rate
const URGENT = ["all", "select", "view", "net"];
// ms; ticks on multiples of it since the epoch, as in socket-worker.js
export const CLOCK = 100;
const OFFSET = (performance.timeOrigin || 0) % CLOCK;
const tickOf = (t) => Math.floor((t + OFFSET) / CLOCK) * CLOCK - OFFSET; // the last tick at or before t

export function createSchedule(store, views, wake) {
  // draws, ms: its draws' count and time, for tests and benchmarks; a lazy view (lazy.js) waits
  // until it is seen
  const entries = views.map((v) => ({ v, seen: new Set(["all"]), last: -Infinity, tick: -Infinity, visible: !v.lazy, draws: 0, ms: 0 }));
  let lastTick = -Infinity; // the page's last tick drawn while playing

  if (typeof IntersectionObserver === "function") {
    const byEl = new Map();
    const io = new IntersectionObserver((changes) => {
      for (const c of changes) {
        const e = byEl.get(c.target);
        if (!e) continue;
        e.visible = c.isIntersecting;
        if (e.visible) {
          e.seen.add("all"); // back on screen: draw what it missed, at once
          wake();
        }
      }
    });
    for (const e of entries) {
      if (e.v.watch) {
        byEl.set(e.v.watch, e);
        io.observe(e.v.watch);
      }
    }
  }

  function collect() {
    if (!store.dirty.size) return;
    for (const e of entries) for (const t of store.dirty) e.seen.add(t);
    store.dirty.clear();
  }

  // When the view may draw next (ms, performance.now() time); null when it has nothing to draw.
  function dueAt(e, playing) {
    const { v } = e;
    if (!e.visible || !(v.animating || v.topics.some((t) => e.seen.has(t)))) return null;
    const every = (typeof v.every === "function" ? v.every() : v.every) ?? CLOCK;
    if (!playing || !every || URGENT.some((t) => e.seen.has(t))) return 0;
    if (every < CLOCK) return e.last + every; // a faster animation keeps its own
    // its k-th tick, after the page's last
    return Math.max(e.tick + Math.max(1, Math.round(every / CLOCK)) * CLOCK, lastTick + CLOCK);
  }

  // The earliest time a view is due, after taking in what the store marked dirty.
  function nextDue() {
    collect();
    const playing = !!store.server?.playing;
    let at = Infinity;
    for (const e of entries) {
      const d = dueAt(e, playing);
      if (d !== null && d < at) at = d;
    }
    return at;
  }

  // Draws the views due at `now` (an animation frame's time, which may precede its timer's).
  function run(now) {
    const playing = !!store.server?.playing;
    const at = performance.now();
    const tick = tickOf(at);
    let drew = false;
    for (const e of entries) {
      collect(); // what the views before this one touched while drawing
      const d = dueAt(e, playing);
      if (d === null || d > at) continue;
      e.last = now;
      e.tick = tick;
      drew = true;
      e.draws++;
      const seen = e.seen;
      e.seen = new Set();
      const t0 = performance.now();
      e.v.animating = e.v.draw(now, seen);
      e.ms += performance.now() - t0;
    }
    if (drew && playing) lastTick = Math.max(lastTick, tick);
    collect();
  }

  return { run, nextDue, entries };
}
