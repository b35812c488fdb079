"""Bodies the HTTP API answers with, as pydantic models (they are the OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FieldIssueModel(BaseModel):
    path: str = Field(description="Dotted path of the offending field, e.g. data.message")
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details, with `errors` listing field issues where there are some."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldIssueModel] | None = None
    known_types: list[str] | None = Field(default=None, description="On an unknown event type")


class EventAccepted(BaseModel):
    """The broker acknowledged the event (acks=all): it is durably on its topic."""

    id: str = Field(description="Event id, also the id of the job it starts")
    type: str
    topic: str
    key: str
    partition: int
    offset: int
    job: str = Field(description="Where to follow the job: GET this path")


class BatchEntry(BaseModel):
    """The outcome of one event of a batch, at the same index as in the request."""

    index: int
    status: int = Field(description="202 when accepted, else the HTTP status of the problem")
    id: str | None = None
    type: str | None = None
    topic: str | None = None
    key: str | None = None
    partition: int | None = None
    offset: int | None = None
    retryable: bool = Field(default=False, description="True for 429/503: resend this event")
    error: Problem | None = None


class BatchResult(BaseModel):
    """Per-event outcomes of a batch (HTTP 207): check `failed_count`, then each entry."""

    accepted_count: int
    failed_count: int
    entries: list[BatchEntry]


class JobSource(BaseModel):
    """The record that started the job."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


class JobView(BaseModel):
    """A job as the consumer's job store has it (job id == id of the event that started it).
    `failed`: this attempt failed and a retry is scheduled; `succeeded` and `dead` are final."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: Literal["queued", "running", "succeeded", "failed", "dead"]
    event_type: str | None = None
    job_type: str | None = None
    attempts: int | None = None
    progress: float | None = Field(default=None, description="0.0 to 1.0 for long-running jobs")
    progress_message: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    source: JobSource | None = None
    correlation_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
