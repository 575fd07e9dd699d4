// When each view draws: when one of its topics changed since its last draw, while it is on screen
// (a hidden panel does not intersect), and while playing no more often than its `every` (ms).
// What a view skipped waits for it. The page asks for a frame only when a view is due.
// While playing, the views of a rate share one clock: they draw only on its ticks, CLOCK ms apart
// (a view of `every` 250 on every 3rd tick of its own), so the page draws at most 10 frames a
// second and none between ticks; each frame costs a paint, a layer update and a commit.

// what a person just did, or a whole new state: drawn at once, whatever the rate
const URGENT = ["all", "select", "view", "net"];
// the clock's period (ms); a view that names no rate draws at most once a tick while playing: a
// frame of its own at every event (30 a second) costs the page a commit and a paint each
export const CLOCK = 100;
// ticks fall on multiples of CLOCK since the epoch (performance.timeOrigin), the same in the
// socket's worker, which hands the page its train frames just before each tick
const OFFSET = (performance.timeOrigin || 0) % CLOCK;
const tickOf = (t) => Math.floor((t + OFFSET) / CLOCK) * CLOCK - OFFSET; // the last tick at or before t

export function createSchedule(store, views, wake) {
  // draws: how many times the view drew, for the page's tests
  // a lazy view (static/lazy.js) waits until it is seen: its first draw loads its module
  // last: the time of its last draw; tick: the tick it last drew on (or in)
  const entries = views.map((v) => ({ v, seen: new Set(["all"]), last: -Infinity, tick: -Infinity, visible: !v.lazy, draws: 0 }));
  let lastTick = -Infinity; // the last tick the page drew on while playing

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
    if (every < CLOCK) return e.last + every; // an animation faster than the clock keeps its own
    // the k-th tick after its last, and never on a tick the page has already drawn
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

  // Draws the views due at `now` (an animation frame's time). Ticks are judged by the clock at the
  // frame's start: a frame's time may be a little before the timer that asked for it fired.
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
      e.v.animating = e.v.draw(now, seen);
    }
    if (drew && playing) lastTick = Math.max(lastTick, tick); // after the loop: they share the tick
    collect();
  }

  return { run, nextDue, entries };
}
