"""The JSON API: presets, the protocol's schema, and the uploads (app/web/uploads.py)."""

from typing import Any

from fastapi import APIRouter, HTTPException

from app import protocol
from app import scenario as sc
from app.web import lessons, models, uploads
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


@router.get("/protocol.json")
async def protocol_schema() -> dict[str, Any]:
    """The JSON Schema of every command and event."""
    return protocol.schema()


router.include_router(uploads.router)
router.include_router(lessons.router)
router.include_router(models.router)
