// When each view draws. A view draws only when one of its topics changed since its own last draw,
// only while it is on screen (an IntersectionObserver watches it; a collapsed or hidden panel does
// not intersect), and, while the network plays, no more often than its `every` (ms): a chart or a
// log redrawn at 30 Hz shows nothing a person can follow. What a view skipped is kept for it, so it
// draws the latest state once it is due or seen again. The page asks for an animation frame only
// when a view is due: a page with nothing new to show costs no frames at all.

// what a person just did, or a whole new state: drawn at once, whatever the rate
const URGENT = ["all", "select", "view", "net"];

export function createSchedule(store, views, wake) {
  // draws: how many times the view drew, for the page's tests
  const entries = views.map((v) => ({ v, seen: new Set(["all"]), last: -Infinity, visible: true, draws: 0 }));

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
      // a view that hides its own root (no plane to draw on) is watched through its region
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
  // `early` is how much sooner it may draw to share a frame with the others: each frame that
  // draws at all pays for a commit and the layers, so views of the same rate draw together.
  function dueAt(e, playing, early = false) {
    const { v } = e;
    if (!e.visible || !(v.animating || v.topics.some((t) => e.seen.has(t)))) return null;
    const every = typeof v.every === "function" ? v.every() : v.every;
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
