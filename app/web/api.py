"""The JSON API: presets (and their pictures), the protocol's schema, and the uploads (app/web/uploads.py)."""

from typing import Any

from fastapi import APIRouter, HTTPException, Response

from app import protocol
from app import scenario as sc
from app.web import lessons, models, thumbs, uploads
from app.web.answers import Missing
from app.web.pages import preset_list

router = APIRouter(prefix="/api")


@router.get("/presets")
async def presets() -> list[dict[str, str]]:
    """Every preset: name, title and description."""
    return preset_list()


@router.get("/presets/{name}", responses={404: {"model": Missing, "description": "No preset of that name"}})
async def preset(name: str) -> dict[str, Any]:
    """One preset's scenario document."""
    try:
        return sc.preset(name)
    except KeyError:
        raise HTTPException(404, f"no preset {name!r}; one of {', '.join(sc.preset_names())}") from None


@router.get(
    "/presets/{name}/thumb.svg",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}},
        404: {"model": Missing, "description": "No preset of that name"},
    },
)
async def preset_thumb(name: str) -> Response:
    """A 44×44 px picture of one preset's data, for the preset picker."""
    try:
        svg = thumbs.preset_picture(name)
    except KeyError:
        raise HTTPException(404, f"no preset {name!r}; one of {', '.join(sc.preset_names())}") from None
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})


@router.get("/protocol.json")
async def protocol_schema() -> dict[str, Any]:
    """The JSON Schema of every command and event."""
    return protocol.schema()


router.include_router(uploads.router)
router.include_router(lessons.router)
router.include_router(models.router)
