"""Bulk data over HTTP, for what one websocket message cannot carry.

POST /api/scenarios stores a validated scenario under an id derived from its content, and
`{"type": "load", "ref": ID}` loads it; POST /api/datasets/csv turns a CSV file into a dataset.
The store keeps the documents' bytes in memory, bounded in bytes, least recently used first out.
"""

import base64
import hashlib
from collections import OrderedDict
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from app import csvdata
from app import scenario as sc
from app.protocol import Load, ProtocolError
from app.web.answers import errors

router = APIRouter()  # under /api (app/web/api.py)
ID_CHARS = 26  # base32 of the SHA-256: 130 bits


class ScenarioStore:
    """Scenario documents by id, at most `limit` bytes of them in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.docs: OrderedDict[str, bytes] = OrderedDict()

    def put(self, data: bytes) -> str:
        """Store a document's canonical JSON; its id, the same for the same document."""
        if len(data) > self.limit:
            raise ValueError(f"the scenario is {len(data)} bytes; the store holds at most {self.limit}")
        key = base64.b32encode(hashlib.sha256(data).digest()).decode().lower()[:ID_CHARS]
        if key in self.docs:
            self.docs.move_to_end(key)
            return key
        self.docs[key] = data
        self.size += len(data)
        while self.size > self.limit:
            _, old = self.docs.popitem(last=False)
            self.size -= len(old)
        return key

    def get(self, key: str) -> bytes | None:
        data = self.docs.get(key)
        if data is not None:
            self.docs.move_to_end(key)
        return data


def store_of(app: Any) -> ScenarioStore:
    """The app's one store, made on first use from its settings."""
    store: ScenarioStore | None = getattr(app.state, "scenarios", None)
    if store is None:
        store = app.state.scenarios = ScenarioStore(int(app.state.settings.scenario_store_mb * 2**20))
    return store


def resolve(app: Any, cmd: Load) -> Load:
    """A `load` by `ref` carrying the stored scenario's JSON (the session reads it off the event
    loop: the largest is tens of megabytes); ProtocolError if unknown."""
    data = store_of(app).get(cmd.ref or "")
    if data is None:
        raise ProtocolError(
            "unknown_ref", f"load.ref: no stored scenario {cmd.ref!r}; upload it again with POST /api/scenarios", "load"
        )
    cmd._stored = data
    return cmd


async def body(request: Request) -> bytes:
    """The request body, refused with 413 beyond the max_upload_bytes setting (before reading it all)."""
    limit = request.app.state.settings.max_upload_bytes
    too_big = HTTPException(413, f"the upload is larger than {limit} bytes (DELTAFLOW_MAX_UPLOAD_BYTES)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _canonical(data: bytes) -> bytes:
    """Validated scenario JSON, re-encoded compactly with sorted keys (so equal documents share an id)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise HTTPException(400, f"the body is not valid JSON: {e}") from None
    try:
        sc.parse(doc)
    except sc.ScenarioError as e:
        raise HTTPException(422, f"scenario: {e}") from None
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


@router.post(
    "/scenarios",
    status_code=201,
    responses=errors(e400="Not JSON", e413="Larger than the upload limit", e422="Not a valid scenario"),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def upload_scenario(request: Request) -> dict[str, str]:
    """Store a scenario document (the JSON body): 201 {"id": ID} for `load` by `ref`."""
    data = await run_in_threadpool(_canonical, await body(request))
    try:
        return {"id": store_of(request.app).put(data)}
    except ValueError as e:
        raise HTTPException(413, str(e)) from None


@router.get("/scenarios/{key}", responses=errors(e404="No stored scenario of that id"))
async def stored_scenario(key: str, request: Request) -> Response:
    """A stored scenario document; 404 when the id is unknown or was evicted."""
    data = store_of(request.app).get(key)
    if data is None:
        raise HTTPException(404, f"no stored scenario {key!r}")
    return Response(data, media_type="application/json")


def _dataset(data: bytes) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HTTPException(422, f"the file is not UTF-8 text (byte {e.start})") from None
    try:
        return csvdata.parse(text)
    except csvdata.CsvError as e:
        raise HTTPException(422, str(e)) from None


@router.post(
    "/datasets/csv",
    responses=errors(e413="Larger than the upload limit", e422="Not a valid CSV dataset"),
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def upload_csv(request: Request) -> dict[str, Any]:
    """A CSV file (the text/csv body) as a dataset: x, y, columns, task and classes."""
    return await run_in_threadpool(_dataset, await body(request))
