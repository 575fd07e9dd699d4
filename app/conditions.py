"""The conditions a breakpoint stops a run on, as the `breakpoints` command gives them: one
model per `kind`, checked as strictly as a command (app/session/breakpoints.py evaluates them).
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Entry(BaseModel):
    """One breakpoint: checked as strictly as a command."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class BpNonfinite(Entry):
    kind: Literal["nonfinite"]


class BpLossIncrease(Entry):
    kind: Literal["loss_increase"]
    k: Annotated[int, Field(ge=1, le=1000)]


class BpVanishing(Entry):
    kind: Literal["vanishing"]
    threshold: Annotated[float, Field(gt=0, le=1e300)]


class BpExploding(Entry):
    kind: Literal["exploding"]
    threshold: Annotated[float, Field(gt=0, le=1e300)]


class BpDeadUnits(Entry):
    kind: Literal["dead_units"]


class BpSaturated(Entry):
    kind: Literal["saturated"]
    epsilon: Annotated[float, Field(gt=0, lt=1)]
    fraction: Annotated[float, Field(gt=0, le=1)]


class BpStep(Entry):
    kind: Literal["step"]
    step: Annotated[int, Field(ge=1)]


class BpAccuracy(Entry):
    kind: Literal["accuracy"]
    value: Annotated[float, Field(ge=0, le=1)]


Breakpoint = Annotated[
    BpNonfinite | BpLossIncrease | BpVanishing | BpExploding | BpDeadUnits | BpSaturated | BpStep | BpAccuracy,
    Field(discriminator="kind"),
]
MAX_BREAKPOINTS = 32
