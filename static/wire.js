// The binary maps message (docs/protocol.md, "Binary maps") -> {seq, step, maps: [...]}, or null
// for anything else. Used by the connection's worker, and by the page when it has no worker.

const MAGIC = 0x314d4644; // "DFM1" read as a little-endian uint32

export function decodeMaps(buf) {
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
