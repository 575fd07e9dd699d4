// One websocket to the server: JSON events in, JSON commands out, binary map frames decoded.
// It reconnects on its own with backoff, to the same session (ws?session=ID, beside the page), or
// to the room it follows as a viewer (ws?room=CODE).
// A server that is full closes with 1013 (try again later): then it waits longer each time, up to 30 s.
// The websocket itself lives in a worker where the browser has module workers.

const TRY_AGAIN_LATER = 1013;
const MAX_DELAY = 8000; // ms, after a blip or a restart
const MAX_DELAY_FULL = 30000; // ms, while the server has no room

// A connection through static/socket-worker.js; `on` gets text(raw), maps(m) and close(code).
// A worker that fails calls `broken` and closes: the next try reads the socket here.
function workerLink(broken) {
  let worker;
  try {
    worker = new Worker(new URL("./socket-worker.js", import.meta.url), { type: "module" });
  } catch {
    return null; // no module workers here: the page reads the socket itself
  }
  let on = null;
  let open = false;
  worker.onerror = () => {
    worker.terminate();
    open = false;
    broken();
    on?.close(1006);
  };
  worker.onmessage = ({ data }) => {
    if (data.op === "open") open = true;
    else if (data.op === "close") {
      open = false;
      on?.close(data.code);
    } else {
      for (const m of data.items) if (typeof m === "string") on?.text(m);
      else on?.maps(m);
    }
  };
  return {
    open(url, handlers) {
      on = handlers;
      open = false;
      worker.postMessage({ op: "open", url });
    },
    pageMaps: true, // the worker draws train frames' maps: the server need not send them
    send: (text) => worker.postMessage({ op: "send", text }),
    close: () => worker.postMessage({ op: "close" }),
    get isOpen() {
      return open;
    },
  };
}

// The same, on the main thread. Only it decodes maps here: it loads the decoder, and hands
// on every message, in order, once the decoder has come.
function directLink() {
  let ws = null;
  let queue = import("./wire.js");
  const later = (fn) => (queue = queue.then((wire) => (fn(wire), wire)));
  return {
    open(url, on) {
      const sock = new WebSocket(url);
      ws = sock;
      sock.binaryType = "arraybuffer";
      sock.onmessage = (e) =>
        later((wire) => {
          if (typeof e.data === "string") return on.text(e.data);
          const m = wire.decodeMaps(e.data);
          if (m) on.maps(m);
        });
      sock.onclose = (e) => later(() => on.close(e.code));
    },
    send: (text) => ws.send(text),
    close: () => ws?.close(),
    get isOpen() {
      return !!ws && ws.readyState === WebSocket.OPEN;
    },
  };
}

// `session`: the tab's session to reattach to; `fallback()`: the query ({preset} or {s}) of the
// scenario a new session starts on, should that session be unknown, or for a first connection.
export function createSocket({ onEvent, onMaps, onStatus, room = null, session: tab = null, fallback = () => ({}) }) {
  let link = workerLink(() => (link = directLink())) || directLink();
  let session = room ? null : tab;
  let follow = room; // a room followed as a viewer (a viewer is not given the session id)
  let retries = 0;
  let timer = 0;
  let closing = false;

  // relative to the page, so it works under any prefix a reverse proxy serves the page at
  function url() {
    const u = new URL("ws", document.baseURI);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    const q = new URLSearchParams(session ? { session } : follow ? { room: follow } : {});
    if (!follow || session) for (const [k, v] of Object.entries(fallback())) if (v) q.set(k, v);
    if (link.pageMaps) q.set("maps", "page");
    u.search = q.size ? `?${q}` : "";
    u.hash = "";
    return u.href;
  }

  const attempts = []; // when each connection was opened (performance.now()), for the page's tests

  function open() {
    clearTimeout(timer);
    attempts.push(performance.now());
    onStatus("connecting", retries);
    let welcomed = false;
    link.open(url(), {
      text(raw) {
        const ev = JSON.parse(raw);
        if (ev.type === "state") {
          session = ev.session;
          follow = ev.room?.role === "viewer" ? ev.room.code : null;
          if (!welcomed) {
            // connected once a session is given: a server that is full also opens, then refuses
            welcomed = true;
            retries = 0;
            onStatus("open", 0);
          }
        }
        onEvent(ev, raw);
      },
      maps: onMaps,
      close(code) {
        if (closing) return;
        // exponential backoff with jitter, capped: a restarting or full server is not stampeded
        const full = code === TRY_AGAIN_LATER;
        const cap = full ? MAX_DELAY_FULL : MAX_DELAY;
        const delay = Math.min(cap, (full ? 1000 : 250) * 2 ** retries) * (0.75 + Math.random() / 2);
        retries++;
        onStatus(full ? "full" : "closed", retries, delay);
        timer = setTimeout(open, delay);
      },
    });
  }

  return {
    open,
    send(cmd) {
      if (!link.isOpen) return false;
      link.send(JSON.stringify(cmd));
      return true;
    },
    get session() {
      return session;
    },
    attempts,
    get connected() {
      return link.isOpen;
    },
    // whether train frames' maps are drawn here, from their weights (the server sends none)
    get pageMaps() {
      return !!link.pageMaps;
    },
    // for tests and the status line: drop the connection as a network blip would
    drop() {
      link.close();
    },
    close() {
      closing = true;
      clearTimeout(timer);
      link.close();
    },
  };
}
