"""A lesson from start to end by keyboard: one answer right, one wrong, each with its feedback."""

from typing import Any

from app import lessons
from app.lessons import questions
from tests.e2e.helpers import fmt

LESSON = "delta-rule"


def truth(scene: int) -> float:
    s = lessons.library().lessons[LESSON].scenes[scene]
    value = questions.truth(s.question, lessons.scene_trainer(s))
    assert isinstance(value, float)
    return value


def at_scene(page: Any, n: int) -> None:
    page.wait_for_selector(f'[data-lesson="{LESSON}"] [data-lesson-scene="{n}"]')
    page.wait_for_function("n => new URLSearchParams(location.search).get('scene') === String(n)", arg=n)


def test_a_lesson_by_keyboard_with_a_right_and_a_wrong_answer(page: Any, artifacts: Any) -> None:
    lesson = lessons.library().lessons[LESSON]
    page.goto(f"/?lesson={LESSON}&scene=0")
    at_scene(page, 0)
    assert page.locator("[data-lesson-title]").text_content() == lesson.title
    assert page.locator("[data-lesson-text] strong, [data-lesson-text] p").count() > 0
    page.wait_for_selector('[data-neuron="1:0"].lesson-hl')  # the scene's highlight
    assert page.locator("[data-lesson-worksheet]").get_attribute("href") == "api/worksheet?preset=and-gate&step=1"

    # scene 1 asks for a number: answer it right
    page.keyboard.press("PageDown")
    at_scene(page, 1)
    answer = page.locator("[data-question] input[type=number]")
    answer.wait_for()
    page.wait_for_function("() => document.activeElement?.matches('[data-question] input')")
    right = truth(1)
    page.keyboard.type(repr(right))
    page.keyboard.press("Enter")
    feedback = page.locator("[data-feedback]")
    page.wait_for_function("() => document.querySelector('[data-feedback]').dataset.right === 'true'")
    said = feedback.locator("[data-feedback-text]").text_content()
    assert said == f"You said {fmt(right, 6)}; it is {fmt(right, 6)}. Right."
    page.wait_for_selector("[data-feedback] [data-feedback-eq] math")  # the filled-in equation
    # the phase that gives the value is revealed: the forward pass of layer 1
    page.wait_for_function("() => window.deltaflow.store.cur?.forward[1] !== undefined")

    # scene 2 asks for delta: answer it wrong
    page.keyboard.press("PageDown")
    at_scene(page, 2)
    page.wait_for_function("() => document.activeElement?.matches('[data-question] input')")
    wrong = truth(2) + 0.25
    page.keyboard.type(repr(wrong))
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('[data-feedback]').dataset.right === 'false'")
    said = feedback.locator("[data-feedback-text]").text_content()
    assert said == f"You said {fmt(wrong, 6)}; it is {fmt(truth(2), 6)}. Not quite."
    page.wait_for_selector("[data-feedback] [data-feedback-eq] math")
    page.screenshot(path=str(artifacts / "lesson-feedback.png"))

    # on to the end, and back one
    for n in range(3, len(lesson.scenes)):
        page.keyboard.press("PageDown")
        at_scene(page, n)
    page.keyboard.press("PageUp")
    at_scene(page, len(lesson.scenes) - 2)
    page.keyboard.press("PageDown")
    at_scene(page, len(lesson.scenes) - 1)
    progress = page.evaluate("() => JSON.parse(localStorage.getItem('deltaflow:lessons'))")
    assert progress[LESSON]["scene"] == len(lesson.scenes) - 1
    assert progress[LESSON]["answers"] == {"1": True, "2": False}

    # a reload comes back to the same scene; the picker lists every lesson with its minutes
    page.reload()
    at_scene(page, len(lesson.scenes) - 1)
    page.locator("[data-lesson-picker] summary").click()
    picks = page.locator("[data-lesson-pick]")
    assert picks.count() == len(lessons.library().lessons)
    assert f"{lesson.minutes} min" in picks.nth(1).text_content()


def test_the_lesson_fits_a_tablet(browser: Any, server: str) -> None:
    from tests.e2e.conftest import Console, open_page

    console = Console()
    with open_page(browser, server, console, 768, 1024) as pg:
        pg.goto("/?lesson=worked-example&scene=1")
        pg.wait_for_selector('[data-lesson="worked-example"] [data-lesson-scene="1"]')
        pg.locator("[data-question] input").wait_for()
        width = pg.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 768
        box = pg.locator('[data-action="lesson-next"]').bounding_box()
        assert box is not None and box["x"] + box["width"] <= 768
    assert not console.errors, "\n".join(console.errors)


def test_a_class_answers_a_question_and_sees_the_reveal(page: Any, browser: Any, server: str) -> None:
    from tests.e2e.conftest import Console, open_page
    from tests.e2e.helpers import open_preset

    scene = lessons.library().lessons["worked-example"].scenes[1]
    z = questions.truth(scene.question, lessons.scene_trainer(scene))
    open_preset(page, "worked-example")
    page.locator('[data-action="start-room"]').click()
    page.wait_for_function("() => window.deltaflow.store.room?.role === 'presenter'")
    code = page.locator("[data-room-code]").text_content()
    console = Console()
    with open_page(browser, server, console, 390, 844) as v:
        v.goto(f"/r/{code}")
        v.wait_for_function("() => window.deltaflow?.store.room?.role === 'viewer'")
        page.wait_for_function("() => document.querySelector('[data-room-viewers]').textContent === '1'")
        page.locator("[data-lesson-picker] summary").click()
        page.locator('[data-lesson-pick="worked-example"]').click()
        page.wait_for_selector('[data-lesson="worked-example"] [data-lesson-scene="0"]')
        page.locator("[data-lesson]").focus()
        page.keyboard.press("PageDown")
        page.wait_for_selector('[data-lesson-scene="1"] ~ [data-question]:not([hidden])')
        assert page.locator("[data-question-reveal]").is_visible()
        # the viewer's page asks the same question, with the scene's narration
        v.wait_for_selector("[data-question]:not([hidden]) input[type=number]")
        assert v.locator("[data-question-prompt]").text_content() == scene.question.prompt
        v.locator("[data-question] input").fill(repr(z + 1))
        v.locator("[data-question] input").press("Enter")
        page.wait_for_function("() => document.querySelector('[data-poll-count]').textContent === '1'")
        page.locator("[data-question-reveal]").click()
        v.wait_for_function("() => document.querySelector('[data-feedback]').dataset.right === 'false'")
        said = v.locator("[data-feedback-text]").text_content()
        assert said == f"You said {fmt(z + 1, 6)}; it is {fmt(z, 6)}. Not quite."
        # the presenter sees the class's answers next to the truth
        page.wait_for_selector("[data-poll-bars] li.truth")
        assert fmt(z, 6) in page.locator("[data-poll-bars]").text_content()
    assert not console.errors, "\n".join(console.errors)
