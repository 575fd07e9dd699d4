"""The maps the page draws from train frames' weights equal the server's, within one colour level.

The page connects with maps=page and draws each frame's maps in its socket worker; a second
connection to the same session, without it, receives the server's maps of the same frames
(same sequence numbers), which are compared pixel by pixel."""

import copy
import json
import struct
import time
from typing import Any

import numpy as np
import pytest
from websockets.sync.client import connect

from app import scenario as sc
from tests.e2e.helpers import open_preset

KEEP = 40  # the page's last maps kept for the comparison
TRAINED = 300  # steps taken before training in train mode


def deep(name: str, layers: list[int], acts: list[str]) -> dict[str, Any]:
    doc = copy.deepcopy(sc.preset("spiral"))
    doc.update(name=name, layers=layers, activations=acts)
    return doc


CASES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "tanh": ("circle", None),
    "sigmoid": ("vanishing-sigmoid", None),  # 40 hidden neurons: hidden maps 25x25
    "relu": ("dead-relu", None),
    "softmax": ("three-class", None),
    "2-8-8-8-1": ("circle", deep("deep", [2, 8, 8, 8, 1], ["tanh", "leaky_relu", "tanh", "tanh"])),
}

# every maps object the store applies, by sequence number: the newest KEEP
RECORD = """(keep) => {
  const s = window.deltaflow.store;
  const seen = new Map();
  window.__maps = seen;
  const apply = s.applyMaps;
  s.applyMaps = (m) => {
    seen.set(m.seq, { step: m.step, maps: m.maps.map((x) => ({ ...x, data: x.data.slice() })) });
    if (seen.size > keep) seen.delete(seen.keys().next().value);
    apply(m);
  };
}"""

PAGE_MAPS = """(seq) => {
  const m = window.__maps.get(seq);
  return m && { step: m.step, maps: m.maps.map((x) => ({ ...x, data: Array.from(x.data) })) };
}"""

# the page's own code on a frame's weights with one of them changed: what the check must catch
PERTURBED = """async ([frame, acts, extent]) => {
  const { packMaps } = await import("./static/planemaps.js");
  const { decodeMaps } = await import("./static/wire.js");
  const w = structuredClone(frame.weights);
  w[0][0][0] += 0.1;
  const net = { activations: acts, weights: w, biases: frame.biases };
  const m = decodeMaps(packMaps(net, extent, frame.maps, frame.step));
  return { step: m.step, maps: m.maps.map((x) => ({ ...x, data: Array.from(x.data) })) };
}"""


def server_maps(blob: bytes) -> list[dict[str, Any]]:
    """The binary maps message (docs/protocol.md), decoded independently of the page's wire.js."""
    _, _, _, n, _ = struct.unpack_from("<4sIIHH", blob)
    out, at = [], 16
    for _ in range(n):
        layer, unit, res, _, lo, hi = struct.unpack_from("<HHHHff", blob, at)
        at += 16
        data = np.frombuffer(blob, np.uint8, res * res, at)
        out.append({"layer": layer, "unit": unit, "res": res, "lo": lo, "hi": hi, "data": data})
        at += res * res
    return out


def worst(page: list[dict[str, Any]], server: list[dict[str, Any]]) -> tuple[int, float]:
    """The largest difference between the same maps: in colour levels, and of lo or hi in float32 ulps."""
    assert [(m["layer"], m["unit"], m["res"]) for m in page] == [(m["layer"], m["unit"], m["res"]) for m in server]
    levels, ulps = 0, 0.0
    for p, s in zip(page, server):
        levels = max(levels, int(np.abs(np.array(p["data"], np.int16) - s["data"].astype(np.int16)).max()))
        for k in ("lo", "hi"):
            a, b = np.float32(p[k]), np.float32(s[k])
            ulps = max(ulps, float(abs(a - b) / np.spacing(max(abs(a), abs(b), np.float32(1e-30)))))
    return levels, ulps


def train(ws: Any, seconds: float) -> tuple[dict[int, dict[str, Any]], dict[int, bytes], dict[str, Any]]:
    """Train for `seconds`, then pause: the frames by maps number, the server's maps by number,
    and the `state` at the pause."""
    frames: dict[int, dict[str, Any]] = {}
    blobs: dict[int, bytes] = {}
    ws.send(json.dumps({"type": "play", "mode": "train", "fps": 30}))
    end = time.monotonic() + seconds
    paused = False
    while True:
        m = ws.recv(timeout=10)
        if isinstance(m, bytes):
            blobs[struct.unpack_from("<I", m, 4)[0]] = m
            continue
        ev = json.loads(m)
        assert ev["type"] != "error", ev
        if ev["type"] == "frame":
            frames[ev["maps"]] = ev
        if ev["type"] == "state" and paused and ev["playing"] is None:
            return frames, blobs, ev
        if not paused and time.monotonic() > end:
            ws.send(json.dumps({"type": "pause"}))
            paused = True


def until_state(ws: Any) -> None:
    while True:
        m = ws.recv(timeout=30)
        if isinstance(m, str) and json.loads(m)["type"] == "state":
            return


def welcome(ws: Any) -> dict[str, Any]:
    """Read a welcome up to its maps; its state and dataset."""
    got: dict[str, Any] = {}
    while True:
        m = ws.recv(timeout=10)
        if isinstance(m, bytes):
            return got
        ev = json.loads(m)
        got.setdefault(ev["type"], ev)


@pytest.mark.parametrize("case", list(CASES))
def test_the_pages_maps_equal_the_servers_within_one_colour_level(page: Any, server: str, case: str) -> None:
    preset, doc = CASES[case]
    open_preset(page, preset)
    assert page.evaluate("() => window.deltaflow.socket.pageMaps")  # the worker draws them
    sid = page.evaluate("() => window.deltaflow.socket.session")
    page.evaluate(RECORD, KEEP)
    with connect(f"{server.replace('http', 'ws', 1)}/ws?session={sid}", max_size=None) as ws:
        first = welcome(ws)
        if doc is not None:
            ws.send(json.dumps({"type": "load", "scenario": doc}))
            first = welcome(ws)
            page.wait_for_function("(n) => window.deltaflow.store.server?.scenario.name === n", arg=doc["name"])
        ws.send(json.dumps({"type": "step", "count": TRAINED}))  # away from the initial weights first
        until_state(ws)
        frames, blobs, _ = train(ws, 1.5)
        page.wait_for_function("(n) => window.deltaflow.store.maps.seq > n", arg=max(frames))
    kept = set(page.evaluate("() => Array.from(window.__maps.keys())"))
    common = [seq for seq in sorted(frames) if seq in blobs and seq in kept]
    assert common, f"no frame whose maps both the page and the server have: {sorted(frames)}"
    seq = common[-1]
    frame = frames[seq]
    assert frame["step"] > TRAINED
    mine = page.evaluate(PAGE_MAPS, seq)
    theirs = server_maps(blobs[seq])
    assert mine["step"] == frame["step"]
    levels, ulps = worst(mine["maps"], theirs)
    assert levels <= 1 and ulps <= 1, f"step {frame['step']}: {levels} colour levels, lo/hi {ulps} float32 ulps apart"
    # the check sees a change of one weight by 0.1
    acts, extent = first["state"]["scenario"]["activations"], first["dataset"]["extent"]
    other = page.evaluate(PERTURBED, [frame, acts, extent])
    assert worst(other["maps"], theirs)[0] > 1
