"""Lifecycle records built without an envelope model are exactly what `codec.encode` writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dpp_consumer.lifecycle import SOURCE, completed_record, failed_record
from dpp_shared.codec import KafkaRecord, decode, encode
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY
from dpp_shared.events.payloads import JobCompletedV1, JobFailedV1
from dpp_shared.topics import TopicNamespace

NAMESPACE = TopicNamespace("t-lifecycle")
TRACE = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def _started_by(correlation_id: str | None, traceparent: str | None) -> EventEnvelope:
    return EventEnvelope(
        source="urn:test",
        type="demo.echo.requested.v1",
        correlationid=correlation_id,
        traceparent=traceparent,
        data={},
    )


def _reference(built: KafkaRecord, started_by: EventEnvelope | None) -> KafkaRecord:
    """What `codec.encode` writes for the same envelope (id and time taken from `built`)."""
    decoded = decode(built.value, built.headers, REGISTRY)
    envelope = EventEnvelope(
        id=decoded.envelope.id,
        time=decoded.envelope.time,
        source=SOURCE,
        type=decoded.event_type.name,
        subject=decoded.envelope.subject,
        dataschema=decoded.event_type.dataschema,
        correlationid=started_by.correlationid if started_by else None,
        traceparent=started_by.traceparent if started_by else None,
        data={},
    )
    return encode(envelope, decoded.payload, decoded.event_type, NAMESPACE)


@pytest.mark.parametrize(("correlation_id", "traceparent"), [("c-1", TRACE), (None, None)])
def test_completed_record_matches_the_codec(
    correlation_id: str | None, traceparent: str | None
) -> None:
    started_by = _started_by(correlation_id, traceparent)
    built = completed_record(
        job_id="job-1",
        job_type="demo.echo",
        event_type="demo.echo.requested.v1",
        attempts=2,
        duration_ms=1.5,
        completed_at=WHEN,
        result={"echo": "hi"},
        started_by=started_by,
        namespace=NAMESPACE,
    )
    assert built == _reference(built, started_by)
    payload = JobCompletedV1.model_validate_json(built.value)
    assert (payload.job_id, payload.attempts, payload.result) == ("job-1", 2, {"echo": "hi"})


@pytest.mark.parametrize("started_by", [None, _started_by("c-2", TRACE)])
def test_failed_record_matches_the_codec(started_by: EventEnvelope | None) -> None:
    built = failed_record(
        job_id="job-2",
        job_type="demo.echo",
        event_type="demo.echo.requested.v1",
        attempts=3,
        error_type="ValueError",
        error="boom",
        failed_at=WHEN,
        started_by=started_by,
        namespace=NAMESPACE,
    )
    assert built == _reference(built, started_by)
    payload = JobFailedV1.model_validate_json(built.value)
    assert (payload.job_id, payload.error_type, payload.error) == ("job-2", "ValueError", "boom")
