"""The `health` event: per weight layer, histograms of W, dC/dW and the activations, dead and
saturated units, and the update-to-weight ratio (docs/debugging.md).

It goes after every completed step while stepping, and with a train frame at most every
HEALTH_EVERY seconds while training. Histograms are HEALTH_BINS integer counts over [lo, hi]:
a few hundred bytes per layer, whatever the layer's size.
"""

from typing import TYPE_CHECKING, Any

import numpy as np

from app.nn import health
from app.session import work

if TYPE_CHECKING:
    from app.session.cursor import Cursor

HEALTH_EVERY = 0.25  # seconds between health events while training: 4 a second, the rate views draw at
HEALTH_ROWS = 256  # training examples whose activations are counted
EPSILON, FRACTION = 0.02, 0.9  # saturated: within 0.02 of a bound on 90% of the examples


def event(c: "Cursor") -> dict[str, Any]:
    """The health of the run at the cursor (after its last completed step)."""
    t = c.trainer
    with c.at_cursor(), np.errstate(all="ignore"):  # a diverging run's histograms skip what is not finite
        layers = health.layers(t.net, t.x[:HEALTH_ROWS], t.last_grad_w, t.last_changes[0::2], EPSILON, FRACTION)
    return {"type": "health", "step": c.step_shown(), "layers": layers}


def flops(c: "Cursor") -> int:
    """What the event costs: a forward pass over its rows, and its histograms about as much again
    (~0.4 ms for 2-64-64-1, ~5 ms for ten layers of 64 on this class of machine)."""
    t = c.trainer
    return 2 * work.forward_flops(t.net.layers, min(HEALTH_ROWS, len(t.x)))


async def computed(c: "Cursor") -> dict[str, Any]:
    """event(c), in a worker thread when large. The caller holds the session's lock, so that
    nothing changes the network meanwhile."""
    return await work.run(event, c, flops=flops(c))
