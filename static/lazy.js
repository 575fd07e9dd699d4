// A view whose module the page loads only when it is needed, so a panel below the fold, or one
// nobody has used yet, costs no bytes at load. Until then a stand-in draws nothing (or `idle`);
// a click or a form sent inside its element first loads the module, then is done again.

// The styles of the panels that load this way (css/panels.css, named by the page's body): a
// promise that settles once they apply, so a panel never draws unstyled.
let panelCss = null;
export function panelStyles() {
  return (panelCss ??= new Promise((done) => {
    const href = document.body.dataset.panelsCss;
    if (!href) return done();
    const link = Object.assign(document.createElement("link"), { rel: "stylesheet", href });
    link.onload = link.onerror = () => done();
    document.head.append(link);
  }));
}

// how long (and for how many frames) a panel stays on screen, once the page has its first state,
// before its module loads: until the first state is drawn and laid out the page is short, and a
// panel below the fold shows for a moment (longer on a slow or busy machine: hence the frames)
const DWELL_MS = 400;
const DWELL_FRAMES = 10;

// root: the view's element; load(): a promise of the view ({topics, draw, every, watch}).
// sight: load once on screen (else only when used, or when `when()`); ready(): the page has its
// first state; idle(seen): what the stand-in draws meanwhile (topics: what it draws from);
// watch: the element whose sight the schedule waits for.
export function lazyView(root, load, { sight = true, when = null, ready = () => true, idle = null, topics = ["all"], watch = root } = {}) {
  let real = null;
  let loading = null;
  let first = true;
  let since = null; // when the stand-in was first drawn on screen with the page ready
  let frames = 0; // and how many times since
  const ensure = () =>
    (loading ??= load().then((v) => {
      real = v;
      view.topics = v.topics;
      view.every = v.every;
    }));
  const view = {
    topics,
    watch,
    lazy: true,
    draw(now, seen) {
      if (!real) {
        let looked = false;
        if (sight && ready()) {
          since ??= now;
          looked = ++frames >= DWELL_FRAMES && now - since >= DWELL_MS;
        }
        if (!loading && (looked || when?.())) ensure();
        idle?.(seen);
        return !!loading || (sight && ready()); // asks again while it waits or the module loads
      }
      const all = first ? new Set(["all"]) : seen; // its first draw is of everything
      first = false;
      return real.draw(now, all);
    },
  };
  replay(root, ensure, () => !!real);
  return view;
}

// Until `loaded()`, a click on a control or a form sent inside `root` first waits for ensure()
// (a promise of the module, its listeners in place), then is done again; a focus or a press
// inside it starts the loading early.
export function replay(root, ensure, loaded) {
  const again = (e, redo) => {
    if (loaded()) return;
    e.preventDefault();
    e.stopPropagation();
    ensure().then(redo);
  };
  root.addEventListener("submit", (e) => again(e, () => e.target.requestSubmit()), true);
  root.addEventListener(
    "click",
    (e) => {
      const b = e.target.closest?.("button, input, select, summary");
      if (b) again(e, () => b.click());
    },
    true,
  );
  for (const type of ["focusin", "pointerdown"]) root.addEventListener(type, () => loaded() || ensure(), { capture: true, passive: true });
}
