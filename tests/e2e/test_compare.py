"""The A/B view: branch from the page, both curves and boundaries drawn, keep run b; and the
weights' export and import buttons."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app import modelio
from tests.e2e.helpers import open_preset

pytestmark = pytest.mark.browser


def canvas_inked(page: Any, selector: str) -> int:
    """How many pixels of the canvas differ from its first one (0: blank)."""
    n: int = page.evaluate(
        """sel => {
          const c = document.querySelector(sel);
          const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let k = 4; k < d.length; k += 4) if (d[k] !== d[0] || d[k + 1] !== d[1] || d[k + 2] !== d[2]) n++;
          return n;
        }""",
        selector,
    )
    return n


def test_the_ab_view_compares_two_runs_and_keeps_one(page: Any, artifacts: Path) -> None:
    open_preset(page, "circle")
    page.locator('[data-action="step"]').click()
    page.wait_for_function("() => window.deltaflow.store.server.step === 1")
    page.select_option("[data-branch-kind]", "learning_rate")
    page.fill("[data-branch-value]", "0.3")
    page.fill("[data-branch-from]", "0")
    page.locator("[data-branch-form] button[type=submit]").click()
    page.wait_for_function("() => window.deltaflow.store.branch?.step === 1")
    page.locator('[data-action="train"]').click()
    page.wait_for_function("() => (window.deltaflow.store.branch?.step ?? 0) > 300")
    page.locator('[data-action="train"]').click()  # pause
    page.wait_for_function(
        "() => { const s = window.deltaflow.store; return !s.server.playing && s.branch.step === s.server.step; }"
    )
    page.wait_for_function("() => window.deltaflow.store.dirty.size === 0")
    assert page.locator("[data-compare]").is_visible()
    summary = page.locator("[data-compare-summary]").text_content() or ""
    assert "Run b: from step 0, learning rate → 0.3" in summary and "First differ by more than 0.001 at step" in summary
    assert "Most different weight now: w[" in summary
    for sel in ("[data-compare-chart] canvas", "[data-compare-map-a]", "[data-compare-map-b]"):
        assert canvas_inked(page, sel) > 100, sel
    page.locator("[data-compare-root]").scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "ab-compare.png")
    b_weights = page.evaluate("() => window.deltaflow.store.branch.weights")
    page.locator('[data-branch-keep="b"]').click()
    page.wait_for_function("() => window.deltaflow.store.branch === null")
    page.wait_for_function("() => window.deltaflow.store.server.scenario.optimizer.learning_rate === 0.3")
    assert page.evaluate("() => window.deltaflow.store.weights") == b_weights
    assert not page.locator("[data-compare]").is_visible()


def test_weights_go_out_and_come_back_in(page: Any, console: Any, tmp_path: Path) -> None:
    open_preset(page, "xor")
    weights = page.evaluate("() => window.deltaflow.store.weights")
    with page.expect_download() as dl:
        page.locator('[data-model-export="npz"]').click()
    assert dl.value.suggested_filename == "xor.npz"
    found = modelio.read(Path(dl.value.path()).read_bytes(), "xor.npz")
    np.testing.assert_array_equal(found["W1"], np.array(weights[0]))
    with page.expect_download() as dl:
        page.locator('[data-model-export="torch"]').click()
    assert "nn.Sequential" in Path(dl.value.path()).read_text()
    # import: every weight doubled
    doubled = tmp_path / "doubled.safetensors"
    doubled.write_bytes(modelio.safetensors.numpy.save({k: 2 * v for k, v in found.items()}))
    with page.expect_file_chooser() as fc:
        page.locator("[data-model-import]").click()
    fc.value.set_files(str(doubled))
    page.wait_for_function("w => window.deltaflow.store.weights[0][0][0] === 2 * w", arg=weights[0][0][0])
    page.wait_for_function(
        "() => document.querySelector('[data-notice]').textContent.includes('imported from doubled.safetensors')"
    )
    # a pickle is refused with the reason
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"\x80\x04K\x01.")
    with page.expect_file_chooser() as fc:
        page.locator("[data-model-import]").click()
    fc.value.set_files(str(pt))
    page.wait_for_function("() => document.querySelector('[data-notice]').textContent.includes('pickle')")
    console.errors[:] = [e for e in console.errors if "status of 422" not in e]  # the refusal, as meant
