"""A session's network over HTTP: export it (safetensors, .npz, PyTorch or numpy script) and
import weights into it (safetensors or .npz, never a pickle). The session id grants both, as
it grants control over the websocket."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from app import modelio
from app.nn.network import Network
from app.web.answers import errors
from app.web.uploads import body

router = APIRouter()  # under /api (app/web/api.py)


async def _session(request: Request, sid: str) -> Any:
    s = await request.app.state.registry.find(sid)
    if s is None:
        raise HTTPException(404, "session: unknown or expired")
    return s


def _shown_network(s: Any) -> Network:
    """A copy of the network at the step the page shows (before a step in progress)."""
    c = s.cursor
    params, _, _ = c.shown()
    net = c.trainer.net
    return Network(net.layers, net.activations, [p.copy() for p in params[0::2]], [p.copy() for p in params[1::2]])


@router.get(
    "/sessions/{sid}/export",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}, "text/x-python": {}}},
        **errors(e404="No such session", e422="An unknown format"),
    },
)
async def export(sid: str, request: Request, format: str = "safetensors") -> Response:  # noqa: A002
    """The session's network at the step shown, as a file: safetensors, npz, torch (a PyTorch
    script) or numpy (a numpy script)."""
    if format not in modelio.FORMATS:
        raise HTTPException(422, f"format: {format[:40]!r} is none of {', '.join(modelio.FORMATS)}")
    s = await _session(request, sid)
    net = _shown_network(s)  # copied between two slices of training, so one consistent step
    name = s.scenario.name or "network"
    data = await run_in_threadpool(modelio.export, net, format, name)
    filename = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)[:60] + modelio.SUFFIX[format]
    return Response(
        data,
        media_type=modelio.MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.post(
    "/sessions/{sid}/import",
    responses=errors(
        e404="No such session", e413="Larger than the upload limit", e422="Not safetensors or .npz, or shapes differ"
    ),
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string"}}}}
    },
)
async def import_weights(sid: str, request: Request, name: str = "") -> dict[str, Any]:
    """Replace the session's weights and biases by those of a safetensors or .npz file (the body;
    `name` is its file name). Tensors W1, b1, W2, ... must match the network's shapes. A new
    branch of the run starts there, as after an edit."""
    name = name[:200]  # only ever quoted back in a message
    s = await _session(request, sid)
    data = await body(request)
    try:
        found = await run_in_threadpool(modelio.read, data, name)
    except modelio.WeightsError as e:
        raise HTTPException(422, str(e)) from None
    async with s.lock:  # between two commands
        layers = s.cursor.trainer.net.layers
        try:
            params = modelio.fit(found, layers)
        except modelio.WeightsError as e:
            raise HTTPException(422, f"{name or 'the file'}: {e}") from None
        s.stop()
        c = s.cursor
        c.abort()
        c.trainer.net.set(params)
        c.edited()
        s.dirty = True
        s.publish(s.state())
        s.publish_maps()
        return {"step": c.step_shown(), "tensors": modelio.describe(c.trainer.net)}
