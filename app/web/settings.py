"""Every server setting in one table, read from DELTAFLOW_* environment variables."""

from functools import lru_cache
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # queued bytes per connection before it resyncs; the welcome of the largest scenario (~27 MB) fits
    outbox_mb: Annotated[float, Field(ge=32)] = 64.0
    command_queue: Annotated[int, Field(ge=1)] = 64  # commands waiting per connection before `busy`
    message_rate: Annotated[float, Field(gt=0)] = 100.0  # messages per second per connection, sustained
    message_burst: Annotated[int, Field(ge=1)] = 200  # messages per connection at once, beyond the rate
    connect_per_minute: Annotated[float, Field(gt=0)] = 300.0  # new connections per client address
    connect_burst: Annotated[int, Field(ge=1)] = 300  # new connections per address at once
    connections_per_session: Annotated[int, Field(ge=1)] = 8
    api_docs: bool = True  # /docs and /redoc, served with local assets; /openapi.json is always on
    max_rooms: Annotated[int, Field(ge=1)] = 50  # classroom rooms open at once
    room_max_viewers: Annotated[int, Field(ge=1)] = 500  # viewers per room
    room_idle_seconds: Annotated[float, Field(gt=0)] = 7200.0  # a room with no presenter closes after this
    viewer_bytes_per_second: Annotated[int, Field(ge=1000)] = 40_000  # a viewer's share of the train stream
    # an upload's body (POST /api/scenarios, /api/datasets/csv); the largest scenario the limits
    # allow (10,000 examples x 64 inputs and 64 outputs) is ~27 MB of compact JSON, ~40 MB indented
    max_upload_bytes: Annotated[int, Field(ge=1024)] = 64 * 2**20
    scenario_store_mb: Annotated[float, Field(gt=0)] = 128.0  # stored scenarios; least recently used go first
    # sessions saved here survive a restart (or a crash); "" or ":memory:" keeps them in memory only
    db: str = "~/.local/share/deltaflow/deltaflow.db"
    save_seconds: Annotated[float, Field(gt=0)] = 1.0  # a changing session is written at most this often
    session_retention_days: Annotated[float, Field(gt=0)] = 30.0  # saved sessions older than this are deleted
    # over this resident memory, no session, fork or scenario load is started (0: half the RAM, at most 4096)
    memory_mb: Annotated[float, Field(ge=0)] = 0.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
