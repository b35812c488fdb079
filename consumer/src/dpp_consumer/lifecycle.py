"""Lifecycle events (`job.completed.v1`, `job.failed.v1`) that tell backend services a job ended."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from dpp_consumer.retry import MAX_ERROR_CHARS
from dpp_shared.codec import CONTENT_TYPE_HEADER, JSON_MEDIA_TYPE, TRACEPARENT_HEADER, KafkaRecord
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY, EventType
from dpp_shared.events.payloads import JobCompletedV1, JobFailedV1
from dpp_shared.ids import new_id
from dpp_shared.topics import TopicNamespace
from dpp_shared.tracing import TraceHeaders

SOURCE = "urn:dpp:consumer"
_COMPLETED = REGISTRY.get("job.completed.v1")
_FAILED = REGISTRY.get("job.failed.v1")


_SPECVERSION = ("ce_specversion", b"1.0")
_SOURCE = ("ce_source", SOURCE.encode())
_CONTENT_TYPE = (CONTENT_TYPE_HEADER, JSON_MEDIA_TYPE.encode())


def _record(
    event_type: EventType,
    job_id: str,
    payload: BaseModel,
    started_by: EventEnvelope | None,
    namespace: TopicNamespace,
    *,
    trace: TraceHeaders | None,
) -> KafkaRecord:
    """Exactly what `codec.encode` writes for this lifecycle event, built without validating an
    envelope model per event: every attribute is a constant of this module, fresh (id, time),
    or copied from the envelope validated when the job's event was consumed."""
    # The lifecycle event continues the job's story: same correlation id and trace, and the
    # job id as subject so consumers can find the job without parsing the payload.
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    headers = [
        _SPECVERSION,
        ("ce_id", new_id().encode()),
        _SOURCE,
        ("ce_type", event_type.name.encode()),
        ("ce_time", now.encode()),
        _CONTENT_TYPE,
        ("ce_subject", job_id.encode()),
        ("ce_dataschema", event_type.dataschema.encode()),
    ]
    if started_by is not None and started_by.correlationid is not None:
        headers.append(("ce_correlationid", started_by.correlationid.encode()))
    if trace is not None:
        headers.extend(trace)  # the worker span's context (tracing on)
    elif started_by is not None and started_by.traceparent is not None:
        headers.append((TRACEPARENT_HEADER, started_by.traceparent.encode()))
    return KafkaRecord(
        topic=namespace.physical(event_type.topic),
        key=event_type.key_of(payload).encode(),
        value=payload.__pydantic_serializer__.to_json(payload),
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
) -> KafkaRecord:
    payload = JobCompletedV1(
        job_id=job_id,
        job_type=job_type,
        event_type=event_type,
        attempts=attempts,
        duration_ms=duration_ms,
        completed_at=completed_at,
        result=result,
    )
    return _record(_COMPLETED, job_id, payload, started_by, namespace, trace=trace)


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
) -> KafkaRecord:
    payload = JobFailedV1(
        job_id=job_id,
        job_type=job_type,
        event_type=event_type,
        attempts=attempts,
        error_type=error_type,
        error=error[:MAX_ERROR_CHARS],  # bounded like the dead letter's header
        failed_at=failed_at,
    )
    return _record(_FAILED, job_id, payload, started_by, namespace, trace=trace)
