"""`deltaflow serve --lessons DIR`: a teacher's lessons are served, and a bad one stops the start."""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.live import serve
from tests.web.test_lessons_api import MINE

ROOT = Path(__file__).resolve().parents[2]


def test_serve_loads_a_folder_of_lessons(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(MINE)
    with serve(args=["--lessons", str(tmp_path)]) as url:
        with urllib.request.urlopen(f"{url}/api/lessons") as r:
            ids = [x["id"] for x in json.load(r)]
    assert "my-lesson" in ids and "worked-example" in ids


def test_serve_refuses_a_bad_lesson_naming_it(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(MINE.replace('preset = "and-gate"', 'preset = "nand-gate"'))
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--port", "1", "--lessons", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "invalid lesson" in done.stderr and "bad.toml: scenes[0].preset: no preset 'nand-gate'" in done.stderr
