// Draws the network view's canvases off the page's main thread: the page hands both over
// (transferControlToOffscreen) and then sends the commands ./paint.js draws.

import { createPainter } from "./paint.js";

let painter = null;
let pair = null;

self.onmessage = async ({ data }) => {
  if (!data.op) painter.draw(data);
  else if (data.op === "canvases") {
    pair = data.pair;
    painter = createPainter(...pair, (r) => new OffscreenCanvas(r, r));
  } else if (data.op === "size") painter.resize(...data.size);
  else if (data.op === "snap") self.postMessage({ id: data.id, blob: await pair[data.k].convertToBlob() });
};
