"""The lessons' API (list, one whole, the JSON Schema) and printable worksheets."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from app import lessons
from app import scenario as sc
from app.lessons.model import schema
from app.web import worksheet
from app.web.answers import Missing, errors

router = APIRouter()


@router.get("/lessons")
async def lesson_list() -> list[dict[str, Any]]:
    """Every lesson: id, title, summary, minutes, concepts and its number of scenes."""
    return [lessons.summary(lesson) for lesson in lessons.library().lessons.values()]


@router.get("/lessons/schema.json")
async def lesson_schema() -> dict[str, Any]:
    """The JSON Schema of a lesson document (docs/lessons.md describes it)."""
    return schema()


@router.get("/lessons/{lesson_id}", responses={404: {"model": Missing, "description": "No lesson of that id"}})
async def lesson(lesson_id: str) -> dict[str, Any]:
    """One lesson whole: each scene with its scenario, its narration as HTML, and its question
    without the answer."""
    found = lessons.library().get(lesson_id)
    if found is None:
        raise HTTPException(404, f"no lesson {lesson_id!r}; see /api/lessons")
    return lessons.public(found)


@router.get(
    "/worksheet",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {}}},
        **errors(e400="A run that diverged before the step", e404="No preset of that name"),
    },
)
async def worksheet_page(
    request: Request,
    preset: Annotated[str, Query(max_length=100)],
    step: Annotated[int, Query(ge=1, le=worksheet.MAX_STEP)] = 1,
) -> HTMLResponse:
    """A printable worksheet of step `step` of a preset's run, with its answer key on its own page."""
    try:
        doc = sc.preset(preset)
    except KeyError:
        raise HTTPException(404, f"no preset {preset!r}; one of {', '.join(sc.preset_names())}") from None
    root = request.scope.get("root_path", "").rstrip("/")
    try:
        html = worksheet.render(doc, step, preset, css_url=f"{root}/static/{worksheet.CSS}")
    except worksheet.WorksheetError as e:
        raise HTTPException(400, str(e)) from None
    return HTMLResponse(html)
