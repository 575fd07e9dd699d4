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
    command_queue: Annotated[int, Field(ge=1)] = 64  # commands waiting per connection before `busy`
    # origins besides the served host whose pages may open the websocket (comma-separated)
    allowed_origins: Annotated[list[str], NoDecode] = []
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
