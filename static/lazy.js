// A view whose module the page loads only when the view is first on screen (the schedule draws
// only views that are), so a panel below the fold costs no bytes at load. Until then, a stand-in
// draws nothing; a click or a form sent inside its element first loads the module, then is
// done again.

// root: the view's element; load(): a promise of the view ({topics, draw, every, watch}).
export function lazyView(root, load) {
  let real = null;
  let loading = null;
  let first = true;
  const ensure = () =>
    (loading ??= load().then((v) => {
      real = v;
      view.topics = v.topics;
      view.every = v.every;
    }));
  const view = {
    topics: ["all"],
    watch: root,
    lazy: true,
    draw(now, seen) {
      if (!real) {
        ensure();
        return true; // asks again while the module loads
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
  return view;
}
