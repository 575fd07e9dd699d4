"""Data from files: a CSV picked or dropped onto the output plane, a large scenario file, and
frozen parameters drawn as such."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import click_net, open_preset, wait_phase

pytestmark = pytest.mark.browser

# three classes on a line: a multiclass task with a softmax output
CSV = "width,height,kind\n" + "".join(f"{k / 10},{(k % 7) / 3},{k % 3}\n" for k in range(60))


def loaded(page: Any, name: str) -> dict[str, Any]:
    page.wait_for_function(
        "n => { const s = window.deltaflow.store; return s.server.scenario.name === n && !s.dirty.size; }", arg=name
    )
    doc: dict[str, Any] = page.evaluate("() => window.deltaflow.store.server.scenario")
    return doc


def test_a_csv_file_from_the_picker_becomes_the_dataset(page: Any, tmp_path: Path) -> None:
    open_preset(page, "circle")  # 2-4-2-1 tanh: the hidden layers carry over
    f = tmp_path / "shapes.csv"
    f.write_text(CSV)
    page.locator("[data-import-csv]").set_input_files(str(f))
    doc = loaded(page, "shapes")
    assert doc["layers"] == [2, 4, 2, 3] and doc["activations"] == ["tanh", "tanh", "softmax"]
    assert doc["loss"] == "cross_entropy" and len(doc["data"]["train"]["x"]) == 60
    assert page.evaluate("() => window.deltaflow.store.dataset.train.y[4]") == [0, 1, 0]  # 4 % 3 = class 1
    assert page.locator("[data-custom-data]").text_content() == "Given data: 60 training examples."
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")


def drop(page: Any, selector: str, name: str, text: str) -> None:
    """Drop a file onto an element, as a drag from the desktop does."""
    dt = page.evaluate_handle(
        """([name, text]) => {
          const dt = new DataTransfer();
          dt.items.add(new File([text], name, { type: "text/csv" }));
          return dt;
        }""",
        [name, text],
    )
    page.dispatch_event(selector, "dragover", {"dataTransfer": dt})
    page.dispatch_event(selector, "drop", {"dataTransfer": dt})


def test_a_csv_file_dropped_on_the_plane_becomes_the_dataset(page: Any) -> None:
    open_preset(page, "xor")
    drop(page, "[data-heatmap] canvas", "gate.csv", "a,b,out\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    doc = loaded(page, "gate")
    assert doc["layers"] == [2, 2, 1] and doc["activations"][-1] == "sigmoid"
    assert doc["loss"] == "binary_cross_entropy"
    assert page.evaluate("() => window.deltaflow.store.server.task") == "binary"


def test_a_bad_csv_file_is_explained_in_words(page: Any, console: Any) -> None:
    open_preset(page, "circle")
    drop(page, "[data-heatmap]", "bad.csv", "a,b,label\n1,2,0\n3,oops,1\n")
    notice = page.locator("[data-notice]")
    notice.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('[data-notice]').textContent.includes('oops')")
    assert notice.text_content() == "bad.csv was not loaded: line 3, column 2 (b): 'oops' is not a number"
    assert page.evaluate("() => window.deltaflow.store.server.scenario.name") == "circle"
    # the browser reports the refused upload itself; that one is expected
    console.errors[:] = [e for e in console.errors if "status of 422" not in e]


def test_a_scenario_file_over_one_message_loads_by_upload(page: Any, tmp_path: Path) -> None:
    # the case: 10,000 rows of 12 inputs, 1.3 MB of JSON, more than a websocket message takes
    rows = 10_000
    x = [[((r * 7 + i) % 13) / 13 for i in range(12)] for r in range(rows)]
    y = [[float(r % 2)] for r in range(rows)]
    doc = {
        "name": "wide",
        "layers": [12, 4, 1],
        "activations": ["tanh", "sigmoid"],
        "loss": "binary_cross_entropy",
        "batch_size": 50,
        "data": {"train": {"x": x, "y": y}},
    }
    f = tmp_path / "wide.json"
    f.write_text(json.dumps(doc))
    assert f.stat().st_size > 2**20
    open_preset(page, "circle")
    page.locator("[data-import]").set_input_files(str(f))
    loaded(page, "wide")
    # all 10,000 examples train; the dataset event carries the first rows within its size cap
    page.wait_for_function(
        "n => { const t = window.deltaflow.store.dataset.train; return (t.size ?? t.x.length) === n; }", arg=rows
    )
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")


def test_frozen_parameters_are_marked(page: Any) -> None:
    open_preset(page, "worked-example-fixed-bias")
    assert page.locator('[data-bias="1:0"]').get_attribute("class") == "bias frozen"
    page.keyboard.press("Shift+ArrowRight")
    wait_phase(page, "Update")
    click_net(page, '[data-bias="2:1"]')
    page.wait_for_function("() => window.deltaflow.store.dirty.size === 0")
    body = page.locator("[data-explain-body]")
    assert "Frozen" in body.text_content() and not body.locator(".warn").count()
