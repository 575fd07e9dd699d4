// What the page needs of classroom rooms outside one: the room's view, its actions, `allows` and
// `claimIfPresenter` stand in for static/views/room.js, which loads when the page is in a room
// (its URL names one, or the server's state does) or a room control is first used.

import { panelStyles } from "./lazy.js";

export function createRoomGate(store, socket) {
  let real = null;
  let loading = null;
  const ensure = () =>
    (loading ??= Promise.all([import("./views/room.js"), panelStyles()]).then(([m]) => {
      real = m.createRoom(store, socket);
      store.touch("room");
    }));
  if (document.body.dataset.room) ensure();

  // the join form, sent before the module arrived: sent again once it has
  const join = document.querySelector("[data-room-join]");
  join.addEventListener(
    "submit",
    (e) => {
      if (real) return;
      e.preventDefault();
      e.stopImmediatePropagation();
      ensure().then(() => join.requestSubmit());
    },
    true,
  );
  join.addEventListener("focusin", () => ensure(), { passive: true });

  const later = (name) => () => ensure().then(() => real.actions[name]());
  return {
    // the page as drawn at load is the room's view outside a room
    view: {
      topics: ["all", "room"],
      draw(now, seen) {
        if (!real && store.room) ensure();
        return real ? real.view.draw(now, seen) : false;
      },
    },
    actions: { "start-room": later("start-room"), fork: later("fork"), rejoin: later("rejoin") },
    // outside a room every command is allowed
    allows: (cmd) => (real ? real.allows(cmd) : true),
    claimIfPresenter() {
      if (real) real.claimIfPresenter();
      else if (store.room) ensure().then(() => real.claimIfPresenter());
    },
  };
}
