"""The error answers of the JSON API, declared once so /openapi.json documents every status."""

from typing import Any

from pydantic import BaseModel


class Missing(BaseModel):
    """An HTTP error's body: what is wrong, in words."""

    detail: str


def errors(**codes: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: errors(e404="No such room") -> {404: {model, description}}."""
    return {int(k.removeprefix("e")): {"model": Missing, "description": v} for k, v in codes.items()}
