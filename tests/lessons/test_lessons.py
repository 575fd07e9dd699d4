"""Every shipped lesson validates, covers the concepts, and asks only what the engine answers."""

import math
from pathlib import Path

import pytest

from app import lessons
from app import scenario as sc
from app.lessons import model, questions
from tests.lessons.trace_values import trace_value, traced_step

SHIPPED = lessons.shipped()
QUESTIONS = [
    (lesson.id, k, scene) for lesson in SHIPPED for k, scene in enumerate(lesson.scenes) if scene.question is not None
]
FOLDER = Path(lessons.__file__).parent


def test_every_shipped_lesson_file_validates() -> None:
    files = sorted(FOLDER.glob("*.toml"))
    assert len(files) >= 10
    for f in files:
        lesson = lessons.read_file(f)  # raises, naming the file and field, on any problem
        assert lesson.scenes


def test_the_lessons_cover_every_concept_with_unique_ids() -> None:
    assert len({lesson.id for lesson in SHIPPED}) == len(SHIPPED)
    covered = {c for lesson in SHIPPED for c in lesson.concepts}
    assert covered == set(model.CONCEPTS), f"no lesson covers {sorted(set(model.CONCEPTS) - covered)}"


def test_every_kind_of_question_is_asked() -> None:
    kinds = {scene.question.kind for _, _, scene in QUESTIONS if scene.question is not None}
    assert kinds == {"number", "sign", "choice", "text"}


@pytest.mark.parametrize("lesson_id, k, scene", QUESTIONS, ids=[f"{i}-{k}" for i, k, _ in QUESTIONS])
def test_every_answer_is_the_traced_value(lesson_id: str, k: int, scene: model.Scene) -> None:
    """The answer of each question equals the value `deltaflow trace` writes for that step."""
    q = scene.question
    truth = questions.truth(q, lessons.scene_trainer(scene))
    if isinstance(q, model.Conceptual):
        assert truth == q.answer
        return
    events = traced_step(lessons.scene_document(scene), scene.steps + 1)
    if isinstance(q, model.Number):
        want = trace_value(events, q.target.model_dump(by_alias=True))
        assert math.isclose(truth, want, rel_tol=0, abs_tol=1e-12), (truth, want)
    elif isinstance(q, model.Sign):
        v = trace_value(events, q.target.model_dump(by_alias=True))
        assert truth == ("up" if v > 0 else "down" if v < 0 else "neither")
    else:
        assert isinstance(q, model.Choice)
        values = [trace_value(events, o.model_dump(by_alias=True)) for o in q.options]
        key = [abs(v) for v in values] if q.by == "abs" else values
        assert truth == q.options[key.index(max(key))].label
        assert sorted(key)[-1] > sorted(key)[-2], "a choice question needs one clear winner"


def test_the_worked_example_answers_match_the_hand_calculation() -> None:
    """The textbook numbers of the 2-2-2 example, worked by hand."""
    lesson = next(lesson for lesson in SHIPPED if lesson.id == "worked-example")
    by_quantity = {}
    for scene in lesson.scenes:
        if isinstance(scene.question, model.Number):
            by_quantity[scene.question.target.quantity] = questions.truth(scene.question, lessons.scene_trainer(scene))
    z = 0.15 * 0.05 + 0.2 * 0.1 + 0.35
    assert by_quantity["z"] == pytest.approx(z, abs=1e-15)
    assert by_quantity["a"] == pytest.approx(1 / (1 + math.exp(-z)), abs=1e-15)
    assert by_quantity["E"] == pytest.approx(0.298371109, abs=1e-9)
    assert by_quantity["delta"] == pytest.approx(0.138498562, abs=1e-9)
    assert by_quantity["new_w"] == pytest.approx(0.35891648, abs=1e-8)


# --- bad lessons are refused, naming the problem -----------------------------------------------
GOOD = """
id = "mine"
title = "Mine"
summary = "A lesson."
minutes = 5
concepts = ["forward-pass"]

[[scenes]]
preset = "worked-example"
narration = "Look."
"""


def with_scene(extra: str) -> str:
    return GOOD + extra


@pytest.mark.parametrize(
    "text, words",
    [
        ("id = ", "not valid TOML"),
        (GOOD.replace('["forward-pass"]', '["backprop"]'), "concepts[0]"),
        (GOOD.replace('preset = "worked-example"', 'preset = "nope"'), "scenes[0].preset: no preset 'nope'"),
        (GOOD + "patch = { layers = [2, 3] }\n", "scenes[0].patch: "),
        (GOOD + 'highlight = ["neuron:3:0"]\n', "scenes[0].highlight[0]"),
        (GOOD + 'highlight = ["<script>"]\n', "highlight[0]"),
        (GOOD + 'phase = { event = "forward", layer = 5 }\n', "scenes[0].phase.layer"),
        (
            GOOD + '[scenes.question]\nkind = "number"\nprompt = "?"\n'
            'target = { quantity = "a", layer = 1, unit = 7 }\n',
            "scenes[0].question.target.unit: layer 1 has 2 units",
        ),
        (
            GOOD + '[scenes.question]\nkind = "text"\nprompt = "?"\nchoices = ["a", "b"]\nanswer = "c"\n'
            'explanation = "x"\n',
            "answer: 'c' is not one of the choices",
        ),
        (GOOD + "colour = 1\n", "colour"),
        (GOOD.replace("minutes = 5", "minutes = 0"), "minutes"),
    ],
)
def test_a_bad_lesson_is_refused_naming_the_field(text: str, words: str) -> None:
    with pytest.raises(lessons.LessonError) as err:
        lessons.parse(text, "mine.toml")
    assert str(err.value).startswith("mine.toml: ")
    assert words in str(err.value)


def test_a_teachers_folder_adds_lessons_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(GOOD)
    lib = lessons.Library()
    lib.add_dir(tmp_path)
    assert list(lib.lessons) == ["mine"]
    (tmp_path / "b.toml").write_text(GOOD)  # the same id twice
    again = lessons.Library()
    with pytest.raises(lessons.LessonError, match="already has the id 'mine'"):
        again.add_dir(tmp_path)
    assert again.lessons == {}
    with pytest.raises(lessons.LessonError, match="no such folder"):
        lib.add_dir(tmp_path / "missing")


def test_a_patch_merges_into_the_preset_key_by_key() -> None:
    scene = model.Scene(preset="worked-example", patch={"optimizer": {"learning_rate": 2.0}}, narration="x")
    doc = lessons.scene_document(scene)
    assert doc["optimizer"] == {"type": "sgd", "learning_rate": 2.0}
    assert doc["weights"] == sc.preset("worked-example")["weights"]


def test_narration_is_rendered_without_raw_html_or_unsafe_links() -> None:
    html = lessons.render(
        "**bold** <script>alert(1)</script> <img src=x onerror=alert(1)> "
        "[bad](javascript:alert(1)) [data](data:text/html,hi) [ok](https://example.org) [here](#net)"
    )
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html and 'href="data:' not in html
    assert '<a href="https://example.org">ok</a>' in html and '<a href="#net">here</a>' in html


def test_the_public_lesson_hides_the_answers() -> None:
    for lesson in SHIPPED:
        out = lessons.public(lesson)
        for scene, raw in zip(out["scenes"], lesson.scenes):
            sc.parse(scene["scenario"])
            if raw.question is not None:
                assert "answer" not in scene["question"] and "explanation" not in scene["question"]
                assert scene["question"]["choices"] == questions.choices(raw.question)


def test_poll_counts_sum_up_choices_and_bin_numbers() -> None:
    sign = model.Sign(kind="sign", prompt="?", target=model.Target(quantity="dw"))
    assert questions.counts(sign, ["up", "up", "down"]) == {"up": 2, "down": 1, "neither": 0}
    number = model.Number(kind="number", prompt="?", target=model.Target(quantity="a"), tolerance=0.01)
    hist = questions.counts(number, [0.5, 0.501, 0.9, -3.0])
    assert sum(hist.values()) == 4 and len(hist) <= questions.MAX_BINS
    assert questions.counts(number, []) == {}
    assert questions.right(number, 0.5, 0.509) and not questions.right(number, 0.5, 0.52)
    assert questions.check_answer(number, "up") is not None and questions.check_answer(number, 1) is None
    assert questions.check_answer(sign, "sideways") is not None
