"""Every server setting in one table, read from DELTAFLOW_* environment variables."""

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.web.security import normalize_root_path, parse_origins


class Settings(BaseSettings):
    """docs/settings in README and docs/protocol.md name these; a test checks they are documented."""

    model_config = SettingsConfigDict(env_prefix="DELTAFLOW_")

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    default_preset: str = "circle"
    session_idle_seconds: Annotated[float, Field(gt=0)] = 1800.0
    max_sessions: Annotated[int, Field(ge=1)] = 500
    max_message_bytes: Annotated[int, Field(ge=1024)] = 2**20  # larger commands close that connection (1009)
    frame_rate: Annotated[int, Field(ge=1, le=60)] = 30  # train frames per second unless `play` says otherwise
    slice_ms: Annotated[float, Field(gt=0, le=5)] = 1.0  # training slice between yields to the event loop
    history_steps: Annotated[int, Field(ge=1)] = 10_000
    history_mb: Annotated[float, Field(gt=0)] = 64.0  # checkpoint memory per session; sets their spacing
    outbox_limit: Annotated[int, Field(ge=16)] = 512  # queued messages per connection before it resyncs
    # queued bytes per connection before it resyncs; at least twice the welcome of the largest
    # scenario (~3.8 MB) and a capped traced step (~5 MB)
    outbox_mb: Annotated[float, Field(ge=8)] = 16.0
    command_queue: Annotated[int, Field(ge=1)] = 64  # commands waiting per connection before `busy`
    message_rate: Annotated[float, Field(gt=0)] = 100.0  # messages per second per connection, sustained
    message_burst: Annotated[int, Field(ge=1)] = 200  # messages per connection at once, beyond the rate
    # new connections per client address, sustained and at once: a room of 500 viewers behind
    # one NAT address all connect within a minute, and again after a blip
    connect_per_minute: Annotated[float, Field(gt=0)] = 600.0
    connect_burst: Annotated[int, Field(ge=1)] = 1000
    connections_per_session: Annotated[int, Field(ge=1)] = 8
    api_docs: bool = False  # /docs and /redoc (for development), with local assets; /openapi.json is always on
    max_rooms: Annotated[int, Field(ge=1)] = 50  # classroom rooms open at once
    room_max_viewers: Annotated[int, Field(ge=1)] = 500  # viewers per room
    room_idle_seconds: Annotated[float, Field(gt=0)] = 7200.0  # a room with no presenter closes after this
    viewer_bytes_per_second: Annotated[int, Field(ge=1000)] = 40_000  # a viewer's share of the train stream
    # an upload's body (POST /api/scenarios, /api/datasets/csv); the largest scenario the limits
    # allow (10,000 examples x 64 inputs and 64 outputs) is ~27 MB of compact JSON, ~40 MB indented
    max_upload_bytes: Annotated[int, Field(ge=1024)] = 64 * 2**20
    scenario_store_mb: Annotated[float, Field(gt=0)] = 128.0  # stored scenarios; least recently used go first
    # origins besides the served host whose pages may open the websocket (comma-separated)
    allowed_origins: Annotated[list[str], NoDecode] = []
    lessons: str = ""  # a folder of teachers' lessons (*.toml) served beside the shipped ones
    root_path: str = ""  # the URL prefix a reverse proxy serves the app under, e.g. /deltaflow

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, v: object) -> list[str]:
        if isinstance(v, str):
            return parse_origins(v)
        if isinstance(v, list | tuple):
            return parse_origins([str(x) for x in v])
        raise ValueError("give origins as a comma-separated list")

    @field_validator("root_path")
    @classmethod
    def _root_path(cls, v: str) -> str:
        return normalize_root_path(v)

    # sessions saved here survive a restart (or a crash); "" or ":memory:" keeps them in memory only
    db: str = "~/.local/share/deltaflow/deltaflow.db"
    save_seconds: Annotated[float, Field(gt=0)] = 1.0  # a changing session is written at most this often
    session_retention_days: Annotated[float, Field(gt=0)] = 30.0  # saved sessions older than this are deleted
    # over this resident memory, no session, fork or scenario load is started (0: half the RAM, at most 4096)
    memory_mb: Annotated[float, Field(ge=0)] = 0.0
    # rooms shared by several worker processes or hosts through Redis (redis://HOST:PORT/DB);
    # empty: one process, no Redis
    redis_url: str = ""


@lru_cache
def get_settings() -> Settings:
    return Settings()
