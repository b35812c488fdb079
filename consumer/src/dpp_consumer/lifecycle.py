"""Lifecycle events (`job.completed.v1`, `job.failed.v1`) that tell backend services a job ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json

from dpp_consumer.retry import MAX_ERROR_CHARS
from dpp_shared.codec import CONTENT_TYPE_HEADER, JSON_MEDIA_TYPE, TRACEPARENT_HEADER, KafkaRecord
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY, EventType
from dpp_shared.events.payloads import JobCompletedV1, JobFailedV1
from dpp_shared.ids import new_id, new_ids
from dpp_shared.topics import TopicNamespace
from dpp_shared.tracing import TraceHeaders

SOURCE = "urn:dpp:consumer"


@dataclass(frozen=True)
class _Template:
    """The parts of a lifecycle record that depend only on its event type, encoded once."""

    event_type: EventType
    type_header: tuple[str, bytes]
    dataschema_header: tuple[str, bytes]


def _template(event_type: EventType) -> _Template:
    if event_type.key_field != "job_id":  # the builders below key records by the job id
        raise RuntimeError(f"{event_type.name} is not keyed by job_id")
    return _Template(
        event_type,
        ("ce_type", event_type.name.encode()),
        ("ce_dataschema", event_type.dataschema.encode()),
    )


_COMPLETED = _template(REGISTRY.get("job.completed.v1"))
_FAILED = _template(REGISTRY.get("job.failed.v1"))
_SPECVERSION = ("ce_specversion", b"1.0")
_SOURCE = ("ce_source", SOURCE.encode())
_CONTENT_TYPE = (CONTENT_TYPE_HEADER, JSON_MEDIA_TYPE.encode())


def event_time(when: datetime) -> str:
    """`ce_time` as `codec.encode` writes it; callers format it once per unit of records."""
    return when.isoformat().replace("+00:00", "Z")


def event_ids(count: int) -> list[str]:
    """`count` fresh `ce_id`s for a unit's lifecycle records, in increasing order, from one
    call (one lock and one clock reading; a fresh id per record was a third of its cost). Hand
    them to the records in the order they are built: the ids stay time-ordered as with one
    `new_id()` per record."""
    return new_ids(count)


def _record(
    template: _Template,
    job_id: str,
    payload: dict[str, Any],
    started_by: EventEnvelope | None,
    namespace: TopicNamespace,
    *,
    trace: TraceHeaders | None,
    time: str | None,
    event_id: str | None,
) -> KafkaRecord:
    """Exactly what `codec.encode` writes for this lifecycle event, built without validating an
    envelope or a payload model per event: every attribute is a constant of this module, fresh
    (id, time), or copied from the envelope validated when the job's event was consumed, and the
    payload's values are ones the worker produced itself (a validated result, its own counts and
    clocks), serialised by pydantic-core as the model would be (the tests compare the bytes)."""
    # The lifecycle event continues the job's story: same correlation id and trace, and the
    # job id as subject so consumers can find the job without parsing the payload.
    headers = [
        _SPECVERSION,
        ("ce_id", (event_id or new_id()).encode()),
        _SOURCE,
        template.type_header,
        ("ce_time", (time or event_time(datetime.now(UTC))).encode()),
        _CONTENT_TYPE,
        ("ce_subject", job_id.encode()),
        template.dataschema_header,
    ]
    if started_by is not None and started_by.correlationid is not None:
        headers.append(("ce_correlationid", started_by.correlationid.encode()))
    if trace is not None:
        headers.extend(trace)  # the worker span's context (tracing on)
    elif started_by is not None and started_by.traceparent is not None:
        headers.append((TRACEPARENT_HEADER, started_by.traceparent.encode()))
    return KafkaRecord(
        topic=namespace.physical(template.event_type.topic),
        key=job_id.encode(),
        value=to_json(payload),
        headers=headers,
    )


def completed_record(
    *,
    job_id: str,
    job_type: str,
    event_type: str,
    attempts: int,
    duration_ms: float,
    completed_at: datetime,
    result: dict[str, Any],
    started_by: EventEnvelope,
    namespace: TopicNamespace,
    trace: TraceHeaders | None = None,
    time: str | None = None,
    event_id: str | None = None,
) -> KafkaRecord:
    """`job.completed.v1` for a job; `time` is its preformatted `ce_time` (default: now) and
    `event_id` its `ce_id` from `event_ids` (default: a fresh one)."""
    if attempts < 1 or not duration_ms >= 0:
        raise ValueError(f"job.completed.v1 needs attempts >= 1 and duration_ms >= 0 ({job_id})")
    payload = {  # JobCompletedV1's fields, in its order, with the types it would coerce to
        "job_id": job_id,
        "job_type": job_type,
        "event_type": event_type,
        "attempts": int(attempts),
        "duration_ms": float(duration_ms),
        "completed_at": completed_at,
        "result": result,
    }
    return _record(
        _COMPLETED,
        job_id,
        payload,
        started_by,
        namespace,
        trace=trace,
        time=time,
        event_id=event_id,
    )


def failed_record(
    *,
    job_id: str,
    job_type: str,
    event_type: str,
    attempts: int,
    error_type: str,
    error: str,
    failed_at: datetime,
    started_by: EventEnvelope | None,
    namespace: TopicNamespace,
    trace: TraceHeaders | None = None,
    time: str | None = None,
    event_id: str | None = None,
) -> KafkaRecord:
    """`job.failed.v1` for a job; `time` is its preformatted `ce_time` (default: now) and
    `event_id` its `ce_id` (default: a fresh one)."""
    if attempts < 1:
        raise ValueError(f"job.failed.v1 needs attempts >= 1 ({job_id})")
    payload = {  # JobFailedV1's fields, in its order
        "job_id": job_id,
        "job_type": job_type,
        "event_type": event_type,
        "attempts": int(attempts),
        "error_type": error_type,
        "error": error[:MAX_ERROR_CHARS],  # bounded like the dead letter's header
        "failed_at": failed_at,
    }
    return _record(
        _FAILED, job_id, payload, started_by, namespace, trace=trace, time=time, event_id=event_id
    )


# The dicts above must stay the models' fields in the models' order (checked once, at import).
if (tuple(JobCompletedV1.model_fields), tuple(JobFailedV1.model_fields)) != (
    ("job_id", "job_type", "event_type", "attempts", "duration_ms", "completed_at", "result"),
    ("job_id", "job_type", "event_type", "attempts", "error_type", "error", "failed_at"),
):
    raise RuntimeError("lifecycle payload fields changed: update dpp_consumer.lifecycle")
