"""docs/lessons.md keeps up with the lesson format and the shipped lessons."""

import re
import typing
from pathlib import Path

from app import lessons
from app.lessons import model
from tests.test_docs import keys

DOC = (Path(__file__).resolve().parents[2] / "docs" / "lessons.md").read_text()


def test_the_doc_is_linked_from_the_readme() -> None:
    assert "docs/lessons.md" in (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_doc_lists_every_shipped_lesson() -> None:
    listed = re.findall(r"^\| `([a-z0-9-]+)` \| ", DOC.split("## In the page", 1)[0], re.M)
    assert listed == [lesson.id for lesson in lessons.shipped()]


def test_the_doc_names_every_concept_quantity_and_key() -> None:
    found = set(model.CONCEPTS) | set(typing.get_args(model.Quantity)) | set(model.VIEWS)
    found |= keys(model.Lesson) | {"from"}
    found -= {"from_"}
    missing = sorted(k for k in found if f"`{k}`" not in DOC and k not in DOC.split("Concept ids:")[1][:600])
    assert not missing, f"docs/lessons.md does not mention {missing}"


def test_the_doc_gives_every_limit() -> None:
    table = DOC.split("### Limits", 1)[1]
    values = [int(v.replace(",", "")) for v in re.findall(r"\| ([\d,]+)(?: KiB| characters)? \|", table)]
    assert set(model.LESSON_LIMITS.values()) <= set(values)
    assert lessons.MAX_FILE_BYTES // 1024 in values and lessons.MAX_LESSONS in values
