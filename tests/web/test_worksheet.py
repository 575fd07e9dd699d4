"""Worksheets: the answer key is `deltaflow trace`'s step, by the API and by the CLI."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]


def key(html: str) -> dict[str, float]:
    """The answer key's exact values, by data-key (z:1:0, new_w:2:0:1, ...)."""
    page = html.split("data-answer-key", 1)[1]
    return {k: float(v) for k, v in re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', page)}


def traced(ref: str, step: int) -> dict[str, float]:
    """The same values from `deltaflow trace` output: first example, step `step`."""
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "trace", ref, "--steps", str(step)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    events = [e for e in map(json.loads, out.splitlines()) if e.get("step") == step]
    values: dict[str, float] = {}
    for e in events:
        l = e.get("layer")
        if e["type"] == "forward":
            for j, (z, a) in enumerate(zip(e["z"][0], e["a"][0])):
                values[f"z:{l}:{j}"], values[f"a:{l}:{j}"] = z, a
        elif e["type"] == "output_error":
            values["E"] = e["losses"][0]
        elif e["type"] == "backward":
            for j, d in enumerate(e["delta"][0]):
                values[f"delta:{l}:{j}"] = d
            for j, row in enumerate(e["grad_w"]):
                for i, g in enumerate(row):
                    values[f"grad_w:{l}:{j}:{i}"] = g
            for j, g in enumerate(e["grad_b"]):
                values[f"grad_b:{l}:{j}"] = g
        elif e["type"] == "update":
            for j, row in enumerate(e["weights"]):
                for i, w in enumerate(row):
                    values[f"new_w:{l}:{j}:{i}"] = w
            for j, b in enumerate(e["biases"]):
                values[f"new_b:{l}:{j}"] = b
    return values


@pytest.mark.parametrize("preset, step", [("worked-example", 1), ("xor", 3), ("three-class", 2)])
def test_the_answer_key_is_the_trace_at_that_step(client: TestClient, preset: str, step: int) -> None:
    r = client.get(f"/api/worksheet?preset={preset}&step={step}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    got, want = key(r.text), traced(preset, step)
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert got[k] == v, k  # repr round-trips a float exactly
    # the work page has blanks, not the answers
    work = r.text.split("data-answer-key", 1)[0]
    assert "data-value" not in work and work.count('class="blank"') == len(want)  # one blank per answer


def test_the_worked_example_key_has_the_hand_numbers(client: TestClient) -> None:
    got = key(client.get("/api/worksheet?preset=worked-example").text)
    assert got["z:1:0"] == pytest.approx(0.3775, abs=1e-15)
    assert got["E"] == pytest.approx(0.298371109, abs=1e-9)
    assert got["new_w:2:0:0"] == pytest.approx(0.35891648, abs=1e-8)


def test_the_worksheet_prints_its_key_on_its_own_page(client: TestClient) -> None:
    r = client.get("/api/worksheet?preset=worked-example&step=2")
    assert 'class="key"' in r.text and "/static/css/worksheet.css" in r.text
    css = client.get("/static/css/worksheet.css").text
    assert "break-before: page" in css and "@page" in css


def test_bad_worksheet_requests_name_the_problem(client: TestClient) -> None:
    r = client.get("/api/worksheet?preset=nope")
    assert r.status_code == 404 and "no preset 'nope'" in r.text
    assert client.get("/api/worksheet?preset=xor&step=0").status_code == 422
    assert client.get("/api/worksheet").status_code == 422


def test_the_cli_writes_the_same_worksheet(tmp_path: Path) -> None:
    out = tmp_path / "sheet.html"
    args = [sys.executable, "-m", "app.cli", "worksheet", "xor", "--step", "3", "-o", str(out)]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert "<style>" in html and "<link" not in html  # a file carries its stylesheet
    assert key(html) == traced("xor", 3)
    bad = subprocess.run([*args[:4], "nope.json", "-o", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no such file" in bad.stderr
