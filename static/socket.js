// One websocket to the server: JSON events in, JSON commands out, binary map frames decoded.
// It reconnects on its own with backoff, to the same session (ws?session=ID, beside the page).

const MAGIC = 0x314d4644; // "DFM1" read as a little-endian uint32

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

export function createSocket({ onEvent, onMaps, onStatus }) {
  let ws = null;
  let session = null;
  let retries = 0;
  let timer = 0;
  let closing = false;

  // relative to the page, so it works under any prefix a reverse proxy serves the page at
  function url() {
    const u = new URL("ws", document.baseURI);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    u.search = session ? `?session=${encodeURIComponent(session)}` : "";
    u.hash = "";
    return u.href;
  }

  function open() {
    clearTimeout(timer);
    onStatus("connecting", retries);
    ws = new WebSocket(url());
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      retries = 0;
      onStatus("open", 0);
    };
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        const ev = JSON.parse(e.data);
        if (ev.type === "state") session = ev.session;
        onEvent(ev, e.data);
      } else {
        const m = decodeMaps(e.data);
        if (m) onMaps(m);
      }
    };
    ws.onclose = () => {
      if (closing) return;
      // exponential backoff with jitter, capped: a restarting server is not stampeded
      const delay = Math.min(8000, 250 * 2 ** retries) * (0.75 + Math.random() / 2);
      retries++;
      onStatus("closed", retries, delay);
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
