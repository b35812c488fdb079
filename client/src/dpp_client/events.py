"""What the client sends (an event in structured JSON form) and what the API answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dpp_client.errors import ProblemError
from dpp_client.ids import new_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Event:
    """One event to publish. `id` (UUIDv7) and `time` are filled in here, once, so every retry
    sends the very same event; the idempotency key defaults to the id. The API answers with the
    job id (this id scoped to the caller's subject, see `PublishResult.id`)."""

    type: str
    data: Mapping[str, Any]
    subject: str | None = None
    correlation_id: str | None = None
    idempotency_key: str | None = None
    traceparent: str | None = None
    id: str = field(default_factory=new_id)
    time: str = field(default_factory=_now)
    source: str | None = None

    @property
    def key(self) -> str:
        """The idempotency key the API deduplicates this event by."""
        return self.idempotency_key or self.id

    def to_json(self, default_source: str) -> dict[str, Any]:
        """The CloudEvents structured-mode JSON object the API accepts."""
        document: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "type": self.type,
            "source": self.source or default_source,
            "time": self.time,
            "datacontenttype": "application/json",
            "idempotencykey": self.key,
            "data": dict(self.data),
        }
        optional = {
            "subject": self.subject,
            "correlationid": self.correlation_id,
            "traceparent": self.traceparent,
        }
        document.update({name: value for name, value in optional.items() if value is not None})
        return document


@dataclass(frozen=True)
class PublishResult:
    """The broker acknowledged the event (acks=all): where it landed."""

    id: str
    type: str
    topic: str
    partition: int
    offset: int
    key: str | None = None
    job: str | None = None
    replayed: bool = False
    """True when the API answered from its idempotency store (an earlier attempt got through)."""

    @classmethod
    def from_json(cls, body: Mapping[str, Any], *, replayed: bool = False) -> PublishResult:
        return cls(
            id=str(body["id"]),
            type=str(body.get("type", "")),
            topic=str(body["topic"]),
            partition=int(body["partition"]),
            offset=int(body["offset"]),
            key=None if body.get("key") is None else str(body["key"]),
            job=None if body.get("job") is None else str(body["job"]),
            replayed=replayed,
        )


@dataclass(frozen=True)
class RejectedEvent:
    """An event of a batch that was not published, with the API's reason."""

    index: int
    event: Event
    error: ProblemError
    retryable: bool


@dataclass
class BatchResult:
    """Per-event outcomes of a batch, in request order."""

    accepted: dict[int, PublishResult] = field(default_factory=dict)
    rejected: dict[int, RejectedEvent] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def raise_for_rejected(self) -> None:
        """Raise the first rejection's error, if any event was rejected."""
        if self.rejected:
            raise self.rejected[min(self.rejected)].error
