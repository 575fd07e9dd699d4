// Classroom rooms: starting one (the presenter's join card: code, QR code, head count), following
// one read-only, exploring apart (fork) and going back to the class (follow).

import { text } from "../util.js";

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = (code) => `deltaflow:presenter:${code}`;
// what a viewer may send; anything else would change the room's session
const VIEWER_COMMANDS = new Set(["fork", "follow", "claim", "ping", "answer"]);

export function createRoom(store, socket) {
  const note = (t) => {
    store.notice = { kind: "info", text: t, at: performance.now() };
    store.touch("status");
  };
  const start = $("[data-room-start]");
  const card = $("[data-room-presenter]");
  const bar = $("[data-room-viewer]");
  const forked = $("[data-room-forked]");
  const qr = $("[data-room-qr]");
  let qrFor = "";
  let left = document.body.dataset.room || ""; // the room a fork left, to go back to

  async function showQR(code) {
    if (qrFor === code) return;
    qrFor = code;
    const r = await fetch(`api/rooms/${encodeURIComponent(code)}/qr.svg`);
    if (!r.ok) return;
    // our own server's SVG, parsed as an SVG document: it carries no script
    const svg = new DOMParser().parseFromString(await r.text(), "image/svg+xml").documentElement;
    if (svg.nodeName === "svg") qr.replaceChildren(document.importNode(svg, true));
  }

  async function startRoom() {
    const session = store.server?.session;
    if (!session) return note("Not connected yet.");
    const r = await fetch("api/rooms", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) return note(`Could not start a room: ${body.detail ?? r.status}`);
    sessionStorage.setItem(TOKEN_KEY(body.room), body.presenter_token);
    store.joinUrl = body.join_url;
    history.pushState(null, "", `r/${body.room}`);
    document.body.dataset.room = body.room;
    note(`Room ${body.room} is open: students join at ${body.join_url}`);
  }

  function join(code) {
    const c = code.toUpperCase().replace(/[^0-9A-Z]/g, "");
    if (c.length !== 6) return note("A room code has 6 letters and digits.");
    location.assign(`r/${c}`);
  }

  $("[data-room-join]").addEventListener("submit", (e) => {
    e.preventDefault();
    join(e.target.elements.code.value);
  });

  // a presenter who reloads, or whose laptop slept, claims the room again with the kept token
  function claimIfPresenter() {
    const r = store.room;
    if (!r || r.role !== "viewer") return;
    const token = sessionStorage.getItem(TOKEN_KEY(r.code));
    if (token) socket.send({ type: "claim", token });
  }

  const actions = {
    "start-room": startRoom,
    fork: () => {
      left = store.room?.code || left;
      socket.send({ type: "fork" });
    },
    rejoin: () => left && socket.send({ type: "follow", room: left }),
  };

  // the controls ask before sending: a viewer's page explains instead of changing the room
  function allows(cmd) {
    const r = store.room;
    if (!r || r.role !== "viewer" || VIEWER_COMMANDS.has(cmd.type)) return true;
    note(`You are following room ${r.code}: press "Explore on my own" to try this yourself.`);
    return false;
  }

  function draw() {
    const r = store.room;
    const presenting = !!r && r.role === "presenter";
    const viewing = !!r && r.role === "viewer";
    document.documentElement.classList.toggle("following", viewing);
    start.hidden = !!r;
    card.hidden = !presenting;
    bar.hidden = !viewing;
    forked.hidden = !!r || !left;
    if (presenting) {
      text($("[data-room-code]"), r.code);
      text($("[data-room-viewers]"), r.viewers);
      text($("[data-room-url]"), store.joinUrl || new URL(`r/${r.code}`, document.baseURI).href);
      showQR(r.code);
    }
    if (viewing) text($("[data-room-following]"), r.code);
    if (!r && left) text($("[data-room-left]"), left);
    return false;
  }

  return { view: { topics: ["all", "room"], draw }, actions, allows, claimIfPresenter };
}
