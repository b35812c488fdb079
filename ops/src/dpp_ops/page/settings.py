"""Settings of the ops service (`DPP_OPS_*`), read once."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

OPS_SCOPE = "ops:read"
OPS_WRITE_SCOPE = "ops:write"


class OpsSettings(BaseSettings):
    """How the ops service samples and whom it answers. Every field is `DPP_OPS_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="DPP_OPS_", extra="ignore")

    host: str = Field(
        default="127.0.0.1",
        description="Interface to bind; loopback by default because auth defaults to none",
    )
    port: int = Field(default=8090, ge=0, le=65535)
    auth: Literal["none", "jwt"] = Field(
        default="none",
        description="'jwt': every /api and /metrics request needs a producer JWT with ops:read "
        "(or ops:write); actions (replay, pause, resume) need ops:write",
    )
    interval_s: float = Field(default=5.0, gt=0, description="Seconds between lag samples")
    history_points: int = Field(default=360, ge=2, description="Samples kept for the charts")
    dead_letter_limit: int = Field(default=20, ge=0, le=500, description="Dead letters shown")
    throughput_bucket_s: float = Field(default=10.0, gt=0, description="Throughput bar width")
    throughput_buckets: int = Field(default=30, ge=1, le=1000, description="Throughput bars")
    purge_interval_s: float = Field(
        default=900.0,
        ge=0,
        description="Purge expired idempotency keys from the job store every this many "
        "seconds; 0 disables",
    )
    autoscale_dir: Path | None = Field(
        default=None,
        description="Where `dpp consumer autoscale` publishes its status [default .dpp/autoscale]",
    )


@cache
def ops_settings() -> OpsSettings:
    return OpsSettings()
