"""Bulk data over HTTP, for what one websocket message cannot carry.

POST /api/scenarios stores a validated scenario under an id derived from its content, and
`{"type": "load", "ref": ID}` loads it; POST /api/datasets/csv turns a CSV file into a dataset.
The store keeps the documents' bytes in memory, bounded in bytes, least recently used first out.
"""

from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from app import csvdata
from app import scenario as sc
from app.ingest import NotJSON
from app.protocol import Load, ProtocolError
from app.session import work
from app.web.answers import errors

router = APIRouter()  # under /api (app/web/api.py)


class ScenarioStore:
    """Validated scenarios by id, at most `limit` bytes of their JSON in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.docs: OrderedDict[str, tuple[sc.Scenario, int]] = OrderedDict()

    def put(self, key: str, scenario: sc.Scenario, size: int) -> str:
        """Store a scenario whose canonical JSON is `size` bytes under its content id."""
        if size > self.limit:
            raise ValueError(f"the scenario is {size} bytes; the store holds at most {self.limit}")
        if key in self.docs:
            self.docs.move_to_end(key)
            return key
        self.docs[key] = (scenario, size)
        self.size += size
        while self.size > self.limit:
            _, (_, old) = self.docs.popitem(last=False)
            self.size -= old
        return key

    def get(self, key: str) -> sc.Scenario | None:
        item = self.docs.get(key)
        if item is None:
            return None
        self.docs.move_to_end(key)
        return item[0]


def store_of(app: Any) -> ScenarioStore:
    """The app's one store, made on first use from its settings."""
    store: ScenarioStore | None = getattr(app.state, "scenarios", None)
    if store is None:
        store = app.state.scenarios = ScenarioStore(int(app.state.settings.scenario_store_mb * 2**20))
    return store


def resolve(app: Any, cmd: Load) -> Load:
    """A `load` by `ref` carrying the stored scenario, already checked; ProtocolError if unknown."""
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


@router.post(
    "/scenarios",
    status_code=201,
    responses=errors(e400="Not JSON", e413="Larger than the upload limit", e422="Not a valid scenario"),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def upload_scenario(request: Request) -> dict[str, str]:
    """Store a scenario document (the JSON body): 201 {"id": ID} for `load` by `ref`."""
    try:  # tens of megabytes of JSON: decoded and checked in the helper process
        key, scenario, size = await work.in_process("app.ingest", await body(request))
    except NotJSON as e:
        raise HTTPException(400, str(e)) from None
    except sc.ScenarioError as e:
        raise HTTPException(422, f"scenario: {e}") from None
    try:
        return {"id": store_of(request.app).put(key, scenario, size)}
    except ValueError as e:
        raise HTTPException(413, str(e)) from None


@router.get("/scenarios/{key}", responses=errors(e404="No stored scenario of that id"))
async def stored_scenario(key: str, request: Request) -> Response:
    """A stored scenario document; 404 when the id is unknown or was evicted."""
    scenario = store_of(request.app).get(key)
    if scenario is None:
        raise HTTPException(404, f"no stored scenario {key!r}")
    return Response(await run_in_threadpool(sc.document, scenario), media_type="application/json")


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
