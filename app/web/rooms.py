"""Classroom rooms over HTTP: open one, look one up, its QR code, and the join page /r/CODE."""

import io
from typing import Annotated, Any

import segno
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError

from app import scenario as sc
from app.protocol import ProtocolError
from app.session.directory import RoomsFull
from app.session.registry import Registry
from app.web import netinfo
from app.web.answers import errors
from app.web.pages import render

router = APIRouter()


class OpenRoom(BaseModel):
    """At most one of: a preset, a whole scenario, or the caller's own session (its id)."""

    model_config = ConfigDict(extra="forbid")
    preset: Annotated[str, Field(max_length=100)] | None = None
    scenario: dict[str, Any] | None = None
    session: Annotated[str, Field(max_length=100)] | None = None


class RoomOpened(BaseModel):
    room: str
    presenter_token: str
    join_url: str
    qr_svg_url: str


class RoomStatus(BaseModel):
    room: str
    viewers: int
    presenter: bool


def join_url(request: Request, code: str) -> str:
    """The URL students open. A teacher on the serving laptop browses at 127.0.0.1, which no
    student can reach: when the server listens on every interface, use this machine's address."""
    base = str(request.base_url).rstrip("/")
    host = request.url.hostname or ""
    if netinfo.is_loopback(host) and netinfo.is_wildcard(request.app.state.settings.host):
        addrs = netinfo.lan_addresses()
        if addrs:
            base = base.replace(host, addrs[0], 1)
    return f"{base}/r/{code}"


@router.post(
    "/api/rooms",
    status_code=201,
    responses=errors(
        e400="Not a valid scenario, or more than one source", e404="No such session or preset", e503="Full"
    ),
)
async def open_room(body: OpenRoom, request: Request) -> RoomOpened:
    """Open a classroom room on a new session, or on the caller's own session."""
    registry: Registry = request.app.state.registry
    given = [k for k in ("preset", "scenario", "session") if getattr(body, k) is not None]
    if len(given) > 1:
        raise HTTPException(400, f"give at most one of preset, scenario and session, not {' and '.join(given)}")
    if body.session is not None:
        s = registry.get(body.session)
        if s is None:
            raise HTTPException(404, "session: unknown or expired")
    else:
        doc: dict[str, Any] | None = body.scenario
        if body.preset is not None:
            try:
                doc = sc.preset(body.preset)
            except KeyError:
                raise HTTPException(404, f"preset: no preset {body.preset!r}") from None
        if doc is not None:
            try:
                sc.parse(doc)
            except sc.ScenarioError as e:
                raise HTTPException(400, f"scenario: {e}") from None
        try:
            s = registry.create(doc)
        except ProtocolError as e:
            raise HTTPException(503, e.message) from None
        if s is None:
            raise HTTPException(503, "the server has no room for another session")
    try:
        code, token = registry.rooms.create(s)
        if registry.rooms.remote is not None:  # other workers find it at once
            await registry.rooms.remote.register(s)
    except RoomsFull as e:
        raise HTTPException(503, str(e)) from None
    except RedisError as e:
        raise HTTPException(503, f"the room directory (Redis) cannot be reached: {e}") from None
    s.publish(s.state())  # its presenters learn the code
    s.room.counted()
    return RoomOpened(
        room=code, presenter_token=token, join_url=join_url(request, code), qr_svg_url=f"/api/rooms/{code}/qr.svg"
    )


async def _room(request: Request, code: str) -> Any:
    try:
        s = await request.app.state.registry.rooms.find(code)
    except ProtocolError as e:
        raise HTTPException(503, e.message) from None
    if s is None:
        raise HTTPException(404, f"no open room {code!r}")
    return s


@router.get(
    "/api/rooms/{code}", responses=errors(e404="No open room of that code", e503="The room directory cannot be reached")
)
async def room_status(code: str, request: Request) -> RoomStatus:
    """How many follow a room, and whether a presenter is connected."""
    s = await _room(request, code)
    return RoomStatus(room=s.room.code, viewers=s.room.viewers, presenter=s.room.presenting)


@router.get(
    "/api/rooms/{code}/qr.svg",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}},
        **errors(e404="No open room of that code", e503="The room directory cannot be reached"),
    },
)
async def room_qr(code: str, request: Request) -> Response:
    """The join URL as a QR code, in SVG."""
    s = await _room(request, code)
    buf = io.BytesIO()
    segno.make(join_url(request, s.room.code), error="m").save(
        buf, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, title=f"Join room {s.room.code}"
    )
    return Response(buf.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/r/{code}", response_class=HTMLResponse, include_in_schema=False)
async def join_page(code: str, request: Request) -> HTMLResponse:
    """The page, following room CODE as a viewer."""
    try:
        s = await request.app.state.registry.rooms.find(code)
    except ProtocolError:
        s = None
    return render(request, room=s.room.code if s else code.upper(), status_code=200 if s else 404)
