"""Editing the training data of a live run (`set_data`): a point added or removed by hand.

The run keeps its weights, optimizer state, step count and history, like a weight edit. Each
version of the data is kept by reference in the checkpoints taken while it was in force, so a
`seek` to a step before the edit replays with the data of then, and one after it with the new.
"""

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from app import protocol as p
from app import scenario as sc
from app.protocol import ProtocolError
from app.session import maps, memory, work
from app.session.outbox import Message

if TYPE_CHECKING:
    from app.session.cursor import Cursor
    from app.session.session import Session


@dataclass(eq=False)  # compared by __eq__ below; swapped by identity
class DataVersion:
    """One version of a run's data: the scenario's `data` and the arrays built from it.

    Never changed in place, so checkpoints, forks and saved sessions share it. `version`
    counts the edits of the run (0: the scenario's own data).
    """

    spec: sc.GivenData | sc.GeneratedData
    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    task: str
    threshold: float
    extent: list[float] | None
    points: np.ndarray | None  # the plane's grid for the maps
    version: int = 0

    def __eq__(self, other: object) -> bool:  # the same data (a saved session's comes back as a copy)
        if not isinstance(other, DataVersion):
            return NotImplemented
        arrays = ((self.x, other.x), (self.y, other.y), (self.x_test, other.x_test), (self.y_test, other.y_test))
        same = all(a is b or (a is not None and b is not None and np.array_equal(a, b)) for a, b in arrays)
        return same and (self.version, self.extent, self.task) == (other.version, other.extent, other.task)

    __hash__ = None  # type: ignore[assignment]

    def apply_to(self, t: Any) -> None:
        """Put this data into trainer `t` (its weights and step stay)."""
        t.set_data(self.x, self.y, self.x_test, self.y_test)
        t.task, t.threshold = self.task, self.threshold


def built_version(s: sc.Scenario, built: sc.Built, version: int = 0, keep: list[float] | None = None) -> DataVersion:
    """The data version of a freshly built scenario. With `keep` (the plane shown so far), the
    plane's extent only grows, so a point added near its edge does not move the others."""
    t, extent = built.trainer, built.extent
    if extent is not None and keep is not None:
        extent = [min(extent[0], keep[0]), max(extent[1], keep[1]), min(extent[2], keep[2]), max(extent[3], keep[3])]
    points = maps.grid(extent) if extent else None
    return DataVersion(s.data, t.x, t.y, t.x_test, t.y_test, built.task, t.threshold, extent, points, version)


def edited_scenario(scenario: sc.Scenario, data: Any) -> tuple[sc.Scenario, sc.Built]:
    """The scenario with `data` in place of its own, checked as a whole as `load` checks a
    scenario (limits, rows, shapes against the layers), and built; ProtocolError if refused."""
    doc = {**scenario.model_dump(exclude_none=True, exclude={"data"}), "data": data}
    try:
        new = sc.parse(doc)
    except sc.ScenarioError as e:
        raise ProtocolError("invalid_command", f"set_data: {e}", "set_data") from None
    return new, sc.build(new)


def _rows(data: Any) -> int:
    if not isinstance(data, dict):
        return 0
    parts = (data.get("train"), data.get("test"))
    return sum(len(q["x"]) for q in parts if isinstance(q, dict) and isinstance(q.get("x"), list))


async def set_data(s: "Session", cmd: p.SetData) -> None:
    """Replace the run's data in place; an edit recorded in the history like `set_weight`."""
    memory.check(s.options.memory_bytes, "set_data")
    c = s.cursor
    rows = _rows(cmd.data)
    new, built = await work.run(edited_scenario, c.scenario, cmd.data, flops=rows * 1000)
    d = built_version(new, built, c.data.version + 1, c.extent)
    from app.session import offload  # it imports the cursor, which imports this module

    c.abort()
    c.use_data(d)
    await offload.edited(c)
    s.room.publish(s.state(), Message(c.dataset_message()))
    s.publish_maps()


def published_if_changed(s: "Session", before: DataVersion) -> None:
    """After a seek: the `dataset` event again when it crossed an edit of the data."""
    if s.cursor.data is not before:
        s.room.publish(Message(s.cursor.dataset_message()))


def trainer_data(c: "Cursor", snap: dict[str, Any], t: Any) -> None:
    """Give trainer `t` (a copy of the cursor's) the data in force at checkpoint `snap`."""
    d = snap.get("data")
    if d is not None and d is not c.data:
        d.apply_to(t)


# --- saving and restoring (app/session/persist.py) --------------------------------------------
def _spec_out(d: DataVersion) -> dict[str, Any]:
    """A data version as a saved session keeps it: its rows as arrays, or its generator."""
    if isinstance(d.spec, sc.GeneratedData):
        return {"generated": d.spec.model_dump(mode="json")}
    out: dict[str, Any] = {"train": {"x": d.x, "y": d.y}, "test": None}
    if d.spec.test is not None:
        out["test"] = {"x": d.x_test, "y": d.y_test} if d.x_test is not None else {"x": [], "y": []}
    return out


def saved(c: "Cursor") -> dict[str, Any]:
    """The data versions of a run to save: the number and plane of the one in force (the
    scenario carries its rows), and each other one a checkpoint still refers to."""
    others: dict[str, Any] = {}
    for snap in c.history.snaps.values():
        d = snap.get("data")
        if d is not None and d is not c.data and str(d.version) not in others:
            others[str(d.version)] = {"data": _spec_out(d), "extent": d.extent}
    return {"version": c.data.version, "extent": c.data.extent, "others": others}


def _placed(d: DataVersion, version: int, extent: list[float] | None) -> DataVersion:
    extent = None if extent is None else [float(v) for v in extent]
    return replace(d, extent=extent, points=maps.grid(extent) if extent else None, version=version)


def _lists(a: Any) -> Any:
    return a.tolist() if isinstance(a, np.ndarray) else a


def restored(c: "Cursor", versions: dict[str, Any] | None, doc: dict[str, Any]) -> dict[int | None, DataVersion]:
    """Put back the saved data versions of a run rebuilt from scenario `doc` (its data the one
    in force): each by its number, and None (a checkpoint saved before data could be edited)
    for the one in force. Raises ScenarioError when a saved version is damaged."""
    if versions is not None:
        c.use_data(_placed(c.data, int(versions["version"]), versions["extent"]))
    out: dict[int | None, DataVersion] = {None: c.data, c.data.version: c.data}
    for k, entry in (versions or {}).get("others", {}).items():
        spec = entry["data"]
        if "generated" in spec:
            data = spec["generated"]
        else:
            data = {n: None if q is None else {"x": _lists(q["x"]), "y": _lists(q["y"])} for n, q in spec.items()}
        s = sc.parse({**doc, "data": data})
        out[int(k)] = _placed(built_version(s, sc.build(s)), int(k), entry["extent"])
    return out
