"""The lessons' API, a teacher's folder of lessons, and questions asked in a private session."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import lessons
from app.lessons import model
from app.web.main import create_app
from app.web.settings import Settings
from tests.lessons.trace_values import trace_value, traced_step
from tests.web.conftest import Conn

MINE = """
id = "my-lesson"
title = "Mine"
summary = "A teacher's lesson."
minutes = 5
concepts = ["forward-pass"]

[[scenes]]
preset = "and-gate"
narration = "Look at **this**."

[scenes.question]
kind = "number"
prompt = "What is a?"
target = { quantity = "a", layer = 1, unit = 0, example = 3 }
"""


def test_the_list_has_every_lesson_without_scenes(client: TestClient) -> None:
    listed = client.get("/api/lessons").json()
    assert [x["id"] for x in listed] == [lesson.id for lesson in lessons.shipped()]
    assert len(listed) >= 10
    for x in listed:
        assert set(x) == {"id", "title", "summary", "minutes", "concepts", "scenes"}
        assert isinstance(x["scenes"], int)


def test_one_lesson_whole_with_scenarios_and_safe_narration(client: TestClient) -> None:
    got = client.get("/api/lessons/worked-example").json()
    assert got["id"] == "worked-example" and len(got["scenes"]) == got["scenes"].__len__() > 1
    first = got["scenes"][0]
    assert first["scenario"]["layers"] == [2, 2, 2] and "<strong>" in first["html"]
    asked = [s for s in got["scenes"] if s.get("question")]
    assert asked and all("answer" not in s["question"] for s in asked)
    r = client.get("/api/lessons/nope")
    assert r.status_code == 404 and "no lesson 'nope'" in r.text


def test_the_lesson_schema_is_served(client: TestClient) -> None:
    got = client.get("/api/lessons/schema.json").json()
    assert got == model.schema()
    assert {"id", "title", "summary", "minutes", "concepts", "scenes"} <= set(got["properties"])


def test_a_teachers_folder_is_served_and_a_bad_one_refused(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(MINE)
    try:
        with TestClient(create_app(Settings(lessons=str(tmp_path)))) as c:
            assert "my-lesson" in [x["id"] for x in c.get("/api/lessons").json()]
            with c.websocket_connect("/ws") as ws:
                conn = Conn(ws)
                conn.welcome()
                conn.load("and-gate")
                conn.send({"type": "ask", "lesson": "my-lesson", "scene": 0})
                qid = conn.until("question")["question"]
                conn.send({"type": "reveal", "question": qid})
                got = conn.until("reveal")["value"]
                want = trace_value(
                    traced_step(lessons.scene_document(lessons.library().lessons["my-lesson"].scenes[0]), 1),
                    {"quantity": "a", "example": 3},
                )
                assert got == want
        (tmp_path / "bad.toml").write_text(MINE.replace("unit = 0", "unit = 4"))
        with pytest.raises(lessons.LessonError, match=r"bad.toml: scenes\[0\]\.question\.target\.unit"):
            create_app(Settings(lessons=str(tmp_path)))
    finally:
        lessons.configure()


def test_a_learner_asks_answers_and_gets_the_engines_value(conn: Conn) -> None:
    lesson = lessons.library().lessons["worked-example"]
    scene = lesson.scenes[4]  # the output delta
    conn.load("worked-example")
    conn.send({"type": "ask", "lesson": "worked-example", "scene": 4})
    q = conn.until("question")
    assert q["kind"] == "number" and q["prompt"] == scene.question.prompt and q["choices"] == []
    assert conn.until("poll") == {"type": "poll", "question": q["question"], "answers": 0, "counts": {}}
    conn.send({"type": "answer", "question": q["question"], "value": "up"})
    assert conn.until("error")["code"] == "invalid_answer"
    conn.send({"type": "answer", "question": q["question"], "value": 0.14})
    assert conn.until("poll")["answers"] == 1
    for _ in range(4):  # into the step: the value is still of this step
        conn.send({"type": "next"})
    conn.send({"type": "reveal", "question": q["question"]})
    r = conn.until("reveal")
    want = trace_value(traced_step(lessons.scene_document(scene), 1), {"quantity": "delta", "layer": 2})
    assert r["value"] == want and r["step"] == 1 and r["answers"] == 1
    conn.send({"type": "answer", "question": q["question"], "value": 0.1})
    assert conn.until("error")["code"] == "closed_question"
    conn.send({"type": "answer", "question": "q0", "value": 0.1})
    assert conn.until("error")["code"] == "unknown_question"
    conn.send({"type": "ask", "lesson": "worked-example", "scene": 0})
    assert conn.until("error")["code"] == "no_question"
    conn.send({"type": "ask", "lesson": "worked-example", "scene": 99})
    assert conn.until("error")["code"] == "out_of_range"
    conn.send({"type": "ask", "lesson": "nope", "scene": 0})
    assert conn.until("error")["code"] == "unknown_lesson"
