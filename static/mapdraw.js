// The maps a page draws itself (socket.js connects with maps=page): the server sends no maps
// with train frames, so they are drawn here, in the socket's worker, from each frame's weights
// (./planemaps.js), for the newest frame of a batch only, at most 10 times a second (the rate
// the network view draws at while training) and in at most half of the worker's time: on a
// slow device the maps come less often, never late. The worker loads this module at
// the first train frame, so a page that never trains never fetches it.

import { packMaps } from "./planemaps.js";
import { decodeMaps } from "./wire.js";

const MIN_MS = 100; // between two drawings: the network view draws at 10 Hz while training
// a drawing may start this much before MIN_MS has passed: the socket worker hands frames over
// once a tick (every 100 ms, give or take its timer), and each tick's newest frame is drawn
const SLACK = 25;

export function createMapDraw(post) {
  let plane = { activations: null, extent: null }; // from the latest `state` and `dataset`
  let held = null; // a frame whose maps wait for their turn to be drawn
  let heldTimer = 0;
  let drawCost = 0; // ms the last drawing took
  let drawEnd = 0; // when it ended (performance.now())
  let drawStart = -Infinity; // when it started

  // a batch's maps item: the server's, decoded, or a frame's drawn ({frame, plane}); null if it
  // cannot be drawn (weights that do not fit the plane's network)
  function drawn(item) {
    if (!item.frame) return item;
    const { frame: f, plane: p } = item;
    const t0 = performance.now();
    drawStart = t0;
    try {
      const buf = packMaps({ activations: p.activations, weights: f.weights, biases: f.biases }, p.extent, f.maps, f.step);
      return { ...decodeMaps(buf), buf };
    } catch {
      return null;
    } finally {
      drawEnd = performance.now();
      drawCost = drawEnd - t0;
    }
  }

  function drawHeld() {
    heldTimer = 0;
    const m = held && drawn(held);
    held = null;
    if (m) post([m]);
  }

  // the dataset event ends with its extent: read that much, not the (maybe megabytes of) rows
  function extentOf(text) {
    const k = text.lastIndexOf('"extent":');
    try {
      return JSON.parse(text.slice(k + 9, -1));
    } catch {
      return JSON.parse(text).extent;
    }
  }

  return {
    reset() {
      plane = { activations: null, extent: null };
      held = null;
    },
    // what a text event tells the maps drawn here; a frame with maps to draw gives its item
    watch(text) {
      if (text.startsWith('{"type":"state"')) {
        plane = { ...plane, activations: JSON.parse(text).scenario?.activations ?? null };
      } else if (text.startsWith('{"type":"dataset"')) {
        plane = { ...plane, extent: extentOf(text) };
      } else if (text.startsWith('{"type":"frame"')) {
        const f = JSON.parse(text);
        if (f.maps != null && plane.extent && plane.activations) return { frame: f, plane };
      }
      return null;
    },
    // ms the last drawing took
    cost: () => drawCost,
    // a batch's items, its one maps item (at `at`) drawn now, held for later, or dropped
    place(items, at) {
      held = null; // newer maps come: the held ones are out of date
      // at most half of the time, and about 10 a second
      const due = Math.max(drawEnd + drawCost, drawStart + MIN_MS - SLACK);
      if (items[at].frame && performance.now() < due) {
        held = items[at];
        heldTimer ||= setTimeout(drawHeld, due - performance.now());
        items.splice(at, 1);
      } else {
        const m = drawn(items[at]);
        if (m) items[at] = m;
        else items.splice(at, 1);
      }
    },
  };
}
