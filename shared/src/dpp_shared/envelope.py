"""The CloudEvents 1.0 envelope every dpp event travels in, with our extensions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dpp_shared.ids import new_id

TRACEPARENT_PATTERN = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
# CloudEvents extension names: lower-case letters and digits only.
EXTENSION_ATTRIBUTES = ("correlationid", "idempotencykey", "traceparent")


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventEnvelope(BaseModel):
    """A CloudEvents 1.0 event. `id` (UUIDv7) and `time` are filled in when the caller gives none;
    `data` is the payload, validated separately against the event type's model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=new_id, min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=512, description="URI-reference of the producer")
    type: str = Field(min_length=1, max_length=256, description="Versioned event type name")
    time: datetime = Field(default_factory=utc_now)
    subject: str | None = Field(default=None, max_length=512)
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = Field(default=None, max_length=512)
    correlationid: str | None = Field(default=None, max_length=128)
    idempotencykey: str | None = Field(default=None, max_length=256)
    traceparent: str | None = Field(default=None, description="W3C trace context")
    data: dict[str, Any]

    @field_validator("traceparent")
    @classmethod
    def _check_traceparent(cls, value: str | None) -> str | None:
        if value is not None and not TRACEPARENT_PATTERN.match(value):
            raise ValueError("must be a W3C traceparent: 00-<32 hex>-<16 hex>-<2 hex>")
        return value

    @field_validator("time")
    @classmethod
    def _require_timezone(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a timezone (RFC 3339), e.g. 2026-01-01T00:00:00Z")
        return value.astimezone(UTC)
