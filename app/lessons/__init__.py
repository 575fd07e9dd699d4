"""The lessons: TOML files in this folder (and a teacher's folder), each checked in full on load.

A lesson passes when its document validates (app/lessons/model.py), every scene's scenario
builds, its phase and highlights name parts of that network, and every question's answer can
be computed from the run (app/lessons/questions.py). A lesson that fails is refused with a
message naming the file, the scene and the field.
"""

import copy
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from pydantic import ValidationError

from app import scenario as sc
from app.lessons import questions
from app.lessons.model import Lesson, Scene
from app.nn.trainer import Trainer

MAX_FILE_BYTES = 256 * 1024
MAX_LESSONS = 200


class LessonError(ValueError):
    """A lesson that does not pass; the message names the file and the field at fault."""


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`base` with `patch` applied key by key: objects merge, anything else replaces."""
    out = copy.deepcopy(base)
    for k, v in patch.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def scene_document(scene: Scene) -> dict[str, Any]:
    """The scene's scenario document: its preset with the patch, or its whole scenario.
    KeyError for an unknown preset."""
    if scene.scenario is not None:
        return copy.deepcopy(scene.scenario)
    assert scene.preset is not None
    return merge(sc.preset(scene.preset), scene.patch)


def scene_trainer(scene: Scene) -> Trainer:
    """A trainer of the scene's run after its `steps`: the state its question is asked at."""
    t = sc.build(sc.parse(scene_document(scene))).trainer
    for _ in range(scene.steps):
        t.step()
    return t


def _check_scene(scene: Scene) -> None:
    try:
        doc = scene_document(scene)
    except KeyError:
        raise LessonError(f"preset: no preset {scene.preset!r}; one of {', '.join(sc.preset_names())}") from None
    try:
        s = sc.parse(doc)
    except sc.ScenarioError as e:
        raise LessonError(f"{'patch' if scene.preset else 'scenario'}: {e}") from None
    n = s.layers
    depth = len(n) - 1
    if scene.phase is not None:
        layered = scene.phase.event in ("forward", "backward", "update")
        if layered and not (scene.phase.layer and scene.phase.layer <= depth):
            raise LessonError(f"phase.layer: {scene.phase.event} needs a layer from 1 to {depth}")
        if not layered and scene.phase.layer is not None:
            raise LessonError(f"phase.layer: {scene.phase.event} has no layer")
    for k, h in enumerate(scene.highlight):
        kind, *rest = h.split(":")
        if kind == "view":
            continue
        l, j, *i = map(int, rest)
        if not (1 <= l <= depth or (kind == "neuron" and l == 0)) or j >= n[l] or (i and i[0] >= n[l - 1]):
            raise LessonError(f"highlight[{k}]: {h!r} is not in this {'-'.join(map(str, n))} network")
    if scene.question is not None:
        # the batch of step `steps` + 1, counted without running the steps before it
        n_train, size = len(sc.build(s).trainer.x), s.batch_size
        k = scene.steps % -(-n_train // size)
        try:
            questions.check(scene.question, n, min(size, n_train - k * size))
        except questions.QuestionError as e:
            raise LessonError(f"question.{e}") from None


def check(lesson: Lesson) -> None:
    """Every scene builds and every question can be answered; LessonError naming the scene."""
    for k, scene in enumerate(lesson.scenes):
        try:
            _check_scene(scene)
        except LessonError as e:
            raise LessonError(f"scenes[{k}].{e}") from None


def parse(text: str, where: str) -> Lesson:
    """A lesson from TOML text, checked in full; LessonError naming `where` and the field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LessonError(f"{where}: not valid TOML: {e}") from None
    try:
        lesson = Lesson.model_validate(doc)
    except ValidationError as err:
        raise LessonError(f"{where}: {sc.describe(err)}") from None
    try:
        check(lesson)
    except LessonError as e:
        raise LessonError(f"{where}: {e}") from None
    return lesson


def read_file(path: Path) -> Lesson:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise LessonError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB")
    return parse(path.read_text(encoding="utf-8"), str(path))


class Library:
    """Lessons by id: the shipped ones, then any a teacher's folder adds."""

    def __init__(self) -> None:
        self.lessons: dict[str, Lesson] = {}

    def add(self, lesson: Lesson, where: str) -> None:
        if lesson.id in self.lessons:
            raise LessonError(f"{where}: id: another lesson already has the id {lesson.id!r}")
        if len(self.lessons) >= MAX_LESSONS:
            raise LessonError(f"{where}: at most {MAX_LESSONS} lessons")
        self.lessons[lesson.id] = lesson

    def add_dir(self, folder: Path) -> None:
        """Every *.toml of `folder`, each checked; LessonError (adding none) if any fails."""
        if not folder.is_dir():
            raise LessonError(f"{folder}: no such folder")
        found = [read_file(p) for p in sorted(folder.glob("*.toml"))]
        if not found:
            raise LessonError(f"{folder}: holds no *.toml lesson")
        trial = Library()
        trial.lessons = dict(self.lessons)
        for p, lesson in zip(sorted(folder.glob("*.toml")), found):
            trial.add(lesson, str(p))
        self.lessons = trial.lessons

    def get(self, lesson_id: str) -> Lesson | None:
        return self.lessons.get(lesson_id)


_shipped: list[Lesson] | None = None


def shipped() -> list[Lesson]:
    """The lessons in this package, in file order (checked once, on first use)."""
    global _shipped
    if _shipped is None:
        files = sorted((f for f in resources.files("app.lessons").iterdir() if f.name.endswith(".toml")), key=str)
        _shipped = [parse(f.read_text(encoding="utf-8"), f"app/lessons/{f.name}") for f in files]
    return _shipped


_library: Library | None = None


def configure(folder: str | Path | None = None) -> Library:
    """The process's lessons from now on: the shipped ones, and those of `folder` if given
    (each checked; LessonError, changing nothing, if any fails)."""
    global _library
    lib = Library()
    for lesson in shipped():
        lib.add(lesson, lesson.id)
    if folder:
        lib.add_dir(Path(folder).expanduser())
    _library = lib
    return lib


def library() -> Library:
    """The process's lessons (see configure)."""
    return _library if _library is not None else configure()


# --- narration ------------------------------------------------------------------------------
SAFE_SCHEMES = ("http://", "https://", "mailto:")


def _safe_link(url: str) -> bool:
    """Links to the web, mail, or within the app; no javascript:, data: or other schemes."""
    u = url.strip().lower()
    return u.startswith(SAFE_SCHEMES) or ":" not in u.split("/", 1)[0]


_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.validateLink = _safe_link  # type: ignore[method-assign]


def render(markdown: str) -> str:
    """Narration as HTML: Markdown with raw HTML shown as text and unsafe links left as text."""
    return _md.render(markdown)


def summary(lesson: Lesson) -> dict[str, Any]:
    """What the picker lists."""
    return {
        "id": lesson.id,
        "title": lesson.title,
        "summary": lesson.summary,
        "minutes": lesson.minutes,
        "concepts": list(lesson.concepts),
        "scenes": len(lesson.scenes),
    }


def public(lesson: Lesson) -> dict[str, Any]:
    """A whole lesson for the page: each scene with its scenario, narration as HTML, and its
    question without the answer (the server reveals that)."""
    scenes = []
    for scene in lesson.scenes:
        out = scene.model_dump(mode="json", by_alias=True, exclude={"question", "patch", "scenario"})
        out["scenario"] = scene_document(scene)
        out["html"] = render(scene.narration)
        if scene.question is not None:
            q = scene.question
            out["question"] = {
                **q.model_dump(mode="json", by_alias=True, exclude={"answer", "explanation"}),
                "choices": questions.choices(q),
            }
        scenes.append(out)
    return {**summary(lesson), "scenes": scenes}
