// A view whose module the page loads only when it is needed, so a panel below the fold, or one
// nobody has used yet, costs no bytes at load. Until then a stand-in draws nothing (or `idle`);
// a click or a form sent inside its element first loads the module, then is done again.

// how long a panel stays on screen, once the page has its first state, before its module loads:
// until the first state is drawn the page is short, and a panel below the fold shows for a moment
const DWELL_MS = 250;

// root: the view's element; load(): a promise of the view ({topics, draw, every, watch}).
// sight: load once on screen (else only when used, or when `when()`); ready(): the page has its
// first state; idle(seen): what the stand-in draws meanwhile (topics: what it draws from).
export function lazyView(root, load, { sight = true, when = null, ready = () => true, idle = null, topics = ["all"] } = {}) {
  let real = null;
  let loading = null;
  let first = true;
  let since = null; // when the stand-in was first drawn on screen with the page ready
  const ensure = () =>
    (loading ??= load().then((v) => {
      real = v;
      view.topics = v.topics;
      view.every = v.every;
    }));
  const view = {
    topics,
    watch: root,
    lazy: true,
    draw(now, seen) {
      if (!real) {
        if (!loading && (when?.() || (sight && ready() && now - (since ??= now) >= DWELL_MS))) ensure();
        idle?.(seen);
        return !!loading || (sight && ready()); // asks again while it waits or the module loads
      }
      const all = first ? new Set(["all"]) : seen; // its first draw is of everything
      first = false;
      return real.draw(now, all);
    },
  };
  const replay = (e, again) => {
    if (real) return;
    e.preventDefault();
    e.stopPropagation();
    ensure().then(again);
  };
  root.addEventListener("submit", (e) => replay(e, () => e.target.requestSubmit()), true);
  root.addEventListener(
    "click",
    (e) => {
      const b = e.target.closest?.("button, input, select, summary");
      if (b) replay(e, () => b.click());
    },
    true,
  );
  // a person reaching for the panel: its module starts loading before the click or the form
  for (const type of ["focusin", "pointerdown"]) root.addEventListener(type, () => ensure(), { capture: true, passive: true });
  return view;
}
