"""Worker settings (`DPP_*` env vars): group, concurrency, drain, retries, metrics, topics."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from dpp_shared.topics import RETRY_DELAYS_S, WORKER_GROUP


class WorkerSettings(BaseSettings):
    """How one worker process consumes and runs jobs. Every field is an env var `DPP_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="DPP_", extra="ignore")

    consumer_group: str = Field(default=WORKER_GROUP, min_length=1, description="Consumer group")
    worker_concurrency: int = Field(default=4, ge=1, le=256, description="Jobs run at once")
    drain_timeout_s: float = Field(
        default=30.0, ge=0, description="On SIGTERM, how long in-flight jobs may finish"
    )
    revoke_grace_s: float = Field(
        default=5.0, ge=0, description="On revocation, how long their jobs may finish"
    )
    max_attempts: int = Field(default=4, ge=1, description="Attempts before a job is dead-lettered")
    retry_delays_s: Annotated[tuple[float, ...], NoDecode] = Field(
        default=RETRY_DELAYS_S, description="Delay of each retry tier, comma-separated seconds"
    )
    metrics_port: int | None = Field(
        default=9102, ge=0, le=65535, description="Prometheus port; unset or 0 disables"
    )
    metrics_host: str = Field(
        default="0.0.0.0",  # noqa: S104 - Prometheus scrapes the container from outside
        description="Address the metrics endpoint binds",
    )
    job_types: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Event types to consume, comma-separated; empty = every job"
    )
    max_poll_interval_ms: int = Field(
        default=300_000, ge=1_000, description="Kafka max.poll.interval.ms of the consumer"
    )
    session_timeout_ms: int = Field(default=45_000, ge=1_000, description="session.timeout.ms")
    batch_size: int = Field(default=500, ge=1, le=100_000, description="Records per consume()")
    commit_interval_ms: int = Field(
        default=250, ge=0, description="How often finished outcomes are published and committed"
    )
    heartbeat_interval_s: float = Field(
        default=30.0,
        ge=0,
        description="How often a running job's updated_at is touched (its heartbeat); 0: never",
    )
    partition_buffer: int = Field(
        default=1_000, ge=1, description="Records held per partition before it is paused"
    )
    tracing: Literal["off", "otlp"] = Field(
        default="off",
        description="OpenTelemetry worker spans exported over OTLP/HTTP (otlp), or none (off)",
    )
    database_secret_arn: str | None = Field(
        default=None,
        # The name Terraform and the producer use, not DPP_-prefixed like the worker's own knobs.
        validation_alias=AliasChoices("DATABASE_SECRET_ARN"),
        description="Secrets Manager ARN of the database credentials (fills DATABASE_URL's user)",
    )

    @field_validator("retry_delays_s", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("job_types", mode="before")
    @classmethod
    def _split_types(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("retry_delays_s")
    @classmethod
    def _check_delays(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or len(value) > len(RETRY_DELAYS_S) or any(delay < 0 for delay in value):
            raise ValueError(
                f"give 1 to {len(RETRY_DELAYS_S)} non-negative delays (one per declared retry tier)"
            )
        return value


@cache
def worker_settings() -> WorkerSettings:
    return WorkerSettings()
