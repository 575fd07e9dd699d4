// When each view draws: when one of its topics changed since its last draw, while it is on screen
// (a hidden panel does not intersect), and while playing no more often than its `every` (ms).
// What a view skipped waits for it. The page asks for a frame only when a view is due.

// what a person just did, or a whole new state: drawn at once, whatever the rate
const URGENT = ["all", "select", "view", "net"];
// while playing, a view that names no rate of its own draws at most this often (ms): a frame of
// its own at every event (30 a second) costs the page a commit and a paint each
const PLAYING_EVERY = 100;

export function createSchedule(store, views, wake) {
  // draws: how many times the view drew, for the page's tests
  // a lazy view (static/lazy.js) waits until it is seen: its first draw loads its module
  const entries = views.map((v) => ({ v, seen: new Set(["all"]), last: -Infinity, visible: !v.lazy, draws: 0 }));

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
  // `early`: a little sooner, to share a frame (each one costs a commit) with a view that is due
  function dueAt(e, playing, early = false) {
    const { v } = e;
    if (!e.visible || !(v.animating || v.topics.some((t) => e.seen.has(t)))) return null;
    const every = (typeof v.every === "function" ? v.every() : v.every) ?? PLAYING_EVERY;
    if (!playing || !every || URGENT.some((t) => e.seen.has(t))) return 0;
    return e.last + (early ? 0.75 * every : every);
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

  // Draws the views due at `now` (an animation frame's time).
  function run(now) {
    const playing = !!store.server?.playing;
    collect();
    const early = entries.some((e) => {
      const d = dueAt(e, playing);
      return d !== null && d <= now;
    });
    for (const e of entries) {
      collect(); // what the views before this one touched while drawing
      const d = dueAt(e, playing, early);
      if (d === null || d > now) continue;
      e.last = now;
      e.draws++;
      const seen = e.seen;
      e.seen = new Set();
      e.v.animating = e.v.draw(now, seen);
    }
    collect();
  }

  return { run, nextDue, entries };
}
