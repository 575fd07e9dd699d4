// One websocket to the server: JSON events in, JSON commands out, binary map frames decoded.
// It reconnects on its own with backoff, to the same session (ws?session=ID, beside the page), or
// to the room it follows as a viewer (ws?room=CODE).
// A server that is full closes with 1013 (try again later): then it waits longer each time, up to 30 s.

const MAGIC = 0x314d4644; // "DFM1" read as a little-endian uint32
const TRY_AGAIN_LATER = 1013;
const MAX_DELAY = 8000; // ms, after a blip or a restart
const MAX_DELAY_FULL = 30000; // ms, while the server has no room

// The binary maps message (docs/protocol.md, "Binary maps") -> {seq, step, maps: [...]}.
function decodeMaps(buf) {
  const v = new DataView(buf);
  if (buf.byteLength < 16 || v.getUint32(0, true) !== MAGIC) return null;
  const seq = v.getUint32(4, true);
  const step = v.getUint32(8, true);
  const n = v.getUint16(12, true);
  const maps = [];
  let o = 16;
  for (let k = 0; k < n; k++) {
    const layer = v.getUint16(o, true);
    const unit = v.getUint16(o + 2, true);
    const res = v.getUint16(o + 4, true);
    const lo = v.getFloat32(o + 8, true);
    const hi = v.getFloat32(o + 12, true);
    o += 16;
    maps.push({ layer, unit, res, lo, hi, data: new Uint8Array(buf, o, res * res) });
    o += res * res;
  }
  return { seq, step, maps };
}

// `session`: the tab's session to reattach to; `fallback()`: the query ({preset} or {s}) of the
// scenario a new session starts on, should that session be unknown, or for a first connection.
export function createSocket({ onEvent, onMaps, onStatus, room = null, session: tab = null, fallback = () => ({}) }) {
  let ws = null;
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
    u.search = q.size ? `?${q}` : "";
    u.hash = "";
    return u.href;
  }

  function open() {
    clearTimeout(timer);
    onStatus("connecting", retries);
    ws = new WebSocket(url());
    ws.binaryType = "arraybuffer";
    let welcomed = false;
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        const ev = JSON.parse(e.data);
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
        onEvent(ev, e.data);
      } else {
        const m = decodeMaps(e.data);
        if (m) onMaps(m);
      }
    };
    ws.onclose = (e) => {
      if (closing) return;
      // exponential backoff with jitter, capped: a restarting or full server is not stampeded
      const full = e.code === TRY_AGAIN_LATER;
      const cap = full ? MAX_DELAY_FULL : MAX_DELAY;
      const delay = Math.min(cap, (full ? 1000 : 250) * 2 ** retries) * (0.75 + Math.random() / 2);
      retries++;
      onStatus(full ? "full" : "closed", retries, delay);
      timer = setTimeout(open, delay);
    };
  }

  return {
    open,
    send(cmd) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(cmd));
      return true;
    },
    get session() {
      return session;
    },
    get connected() {
      return !!ws && ws.readyState === WebSocket.OPEN;
    },
    // for tests and the status line: drop the connection as a network blip would
    drop() {
      if (ws) ws.close();
    },
    close() {
      closing = true;
      clearTimeout(timer);
      if (ws) ws.close();
    },
  };
}
