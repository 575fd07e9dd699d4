"""What a cursor sends that is costly to encode, encoded once per version of it.

A run's data (in `state`), its `dataset` event and a large net's weights are megabytes of JSON
at the limits. Each is encoded when it changes, where the cursor is built or stepped (a worker
thread for a large run), a piece at a time, so that sending it costs the event loop a copy.
"""

from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from app import rows
from app import scenario as sc
from app.codec import ArraysJson, encode
from app.session import work

if TYPE_CHECKING:
    from app.nn.trainer import Trainer

STATE_DATA_BYTES = 2**20  # given data larger than a websocket message is not repeated in `state`


class Encoded:
    """A cursor's data as `state` carries it (`data`), its `dataset` event (`dataset`), and its
    weights and biases (`params`, re-encoded whenever their bits change)."""

    def __init__(self) -> None:
        self.weights, self.biases = ArraysJson(), ArraysJson()
        self.data_json = b"null"
        self.data = orjson.Fragment(self.data_json)
        self.dataset = b""

    def __getstate__(self) -> dict[str, Any]:  # a Fragment does not pickle (a run built in the replica)
        return {k: v for k, v in self.__dict__.items() if k != "data"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, data=orjson.Fragment(state["data_json"]))

    def data_changed(self, data: sc.GivenData | sc.GeneratedData, t: "Trainer", extent: Any) -> None:
        """Encode the data in force: in `state` (past STATE_DATA_BYTES summed up instead; the
        dataset event has the examples) and as the `dataset` event."""
        doc = data_json(data, STATE_DATA_BYTES)
        if doc is None:
            n_test = 0 if t.x_test is None else len(t.x_test)
            doc = encode({"omitted": True, "train": len(t.x), "test": n_test})
        self.data_json, self.data = doc, orjson.Fragment(doc)
        d = dataset_event(t, extent)
        parts = [
            b"null"
            if p is None
            else rows.encode_xy(p["x"], p["y"], {k: v for k, v in p.items() if k not in ("x", "y")})
            for p in (d["train"], d["test"])
        ]  # as encode(d) gives it, a piece at a time
        self.dataset = b'{"type":"dataset","train":%s,"test":%s,"extent":%s}' % (
            parts[0],
            parts[1],
            orjson.dumps(d["extent"]),
        )

    def params(self, params: list[np.ndarray]) -> tuple[Any, Any]:
        """The weights and biases as `state` carries them: large ones already encoded."""
        return self.weights(params[0::2]), self.biases(params[1::2])


def dataset_event(t: "Trainer", extent: Any) -> dict[str, Any]:
    """The `dataset` event: each part whole, or its first rows with `size` (work.part)."""
    test = None if t.x_test is None or t.y_test is None else work.part(t.x_test, t.y_test)
    return {"type": "dataset", "train": work.part(t.x, t.y), "test": test, "extent": extent}


def data_json(d: sc.GivenData | sc.GeneratedData, limit: int) -> bytes | None:
    """The scenario's `data` as `state` carries it, or None past `limit` bytes."""
    if isinstance(d, sc.GeneratedData):
        return encode(d.model_dump(mode="json", exclude_none=True))
    return rows.encode_parts({"train": d.train, "test": d.test}, limit)
