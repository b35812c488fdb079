"""Lifecycle events (`job.completed.v1`, `job.failed.v1`) that tell backend services a job ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dpp_shared.codec import KafkaRecord, encode
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY
from dpp_shared.events.payloads import JobCompletedV1, JobFailedV1
from dpp_shared.topics import TopicNamespace

SOURCE = "urn:dpp:consumer"
_COMPLETED = REGISTRY.get("job.completed.v1")
_FAILED = REGISTRY.get("job.failed.v1")


def _envelope(
    event_type: str, job_id: str, payload: dict[str, Any], started_by: EventEnvelope | None
) -> EventEnvelope:
    # The lifecycle event continues the job's story: same correlation id and trace, and the
    # job id as subject so consumers can find the job without parsing the payload.
    return EventEnvelope(
        source=SOURCE,
        type=event_type,
        subject=job_id,
        dataschema=REGISTRY.get(event_type).dataschema,
        correlationid=started_by.correlationid if started_by else None,
        traceparent=started_by.traceparent if started_by else None,
        data=payload,
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
    envelope = _envelope(_COMPLETED.name, job_id, {}, started_by)
    return encode(envelope, payload, _COMPLETED, namespace)


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
) -> KafkaRecord:
    payload = JobFailedV1(
        job_id=job_id,
        job_type=job_type,
        event_type=event_type,
        attempts=attempts,
        error_type=error_type,
        error=error,
        failed_at=failed_at,
    )
    envelope = _envelope(_FAILED.name, job_id, {}, started_by)
    return encode(envelope, payload, _FAILED, namespace)
