"""Lifecycle records built without an envelope model are exactly what `codec.encode` writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dpp_consumer.lifecycle import SOURCE, completed_record, event_ids, failed_record
from dpp_consumer.retry import MAX_ERROR_CHARS
from dpp_shared.codec import KafkaRecord, decode, encode
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY
from dpp_shared.events.payloads import JobCompletedV1, JobFailedV1
from dpp_shared.ids import new_id
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


def test_payloads_are_the_bytes_their_models_serialise_to() -> None:
    """Built without a model, the payload still serialises as the validated model would:
    field order, an integer duration as a float, odd text, a non-UTC time, a long error cut."""
    started_by = _started_by(None, None)
    odd = 'naïve "quoted" \\ \u2028 é'
    completed = completed_record(
        job_id="job-3", job_type=odd, event_type="demo.echo.requested.v1", attempts=1,
        duration_ms=0, completed_at=WHEN.astimezone(timezone(timedelta(hours=-5))),
        result={"nested": [1, 2.5, None, {"x": odd}], "big": 10**20},
        started_by=started_by, namespace=NAMESPACE,
    )  # fmt: skip
    model = JobCompletedV1(
        job_id="job-3", job_type=odd, event_type="demo.echo.requested.v1", attempts=1,
        duration_ms=0, completed_at=WHEN.astimezone(timezone(timedelta(hours=-5))),
        result={"nested": [1, 2.5, None, {"x": odd}], "big": 10**20},
    )  # fmt: skip
    assert completed.value == model.model_dump_json().encode()
    failed = failed_record(
        job_id="job-4", job_type="echo", event_type="demo.echo.requested.v1", attempts=2,
        error_type="E", error=odd * 1000, failed_at=WHEN, started_by=None, namespace=NAMESPACE,
    )  # fmt: skip
    failed_model = JobFailedV1(
        job_id="job-4", job_type="echo", event_type="demo.echo.requested.v1", attempts=2,
        error_type="E", error=(odd * 1000)[:MAX_ERROR_CHARS], failed_at=WHEN,
    )  # fmt: skip
    assert failed.value == failed_model.model_dump_json().encode()


def test_what_the_models_would_refuse_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        failed_record(
            job_id="j", job_type="echo", event_type="e", attempts=0, error_type="E", error="x",
            failed_at=WHEN, started_by=None, namespace=NAMESPACE,
        )  # fmt: skip
    with pytest.raises(ValueError, match="duration_ms"):
        completed_record(
            job_id="j", job_type="echo", event_type="e", attempts=1, duration_ms=-1.0,
            completed_at=WHEN, result={}, started_by=_started_by(None, None), namespace=NAMESPACE,
        )  # fmt: skip


def test_a_units_ids_are_fresh_time_ordered_uuid7s_carried_as_ce_id() -> None:
    """`event_ids` (the batched ids of a unit's announcements) gives distinct, increasing
    UUIDv7s, later than an id made before it, and the record carries the one it is handed."""
    before = new_id()
    for count in (1, 3, 4, 500):  # both sides of `new_ids`' batching threshold
        ids = event_ids(count)
        assert len(ids) == count and len(set(ids)) == count
        assert [before, *ids] == sorted([before, *ids])
        assert all(
            uuid.UUID(found).version == 7 and str(uuid.UUID(found)) == found for found in ids
        )
        before = ids[-1]
    built = completed_record(
        job_id="job-3",
        job_type="demo.echo",
        event_type="demo.echo.requested.v1",
        attempts=1,
        duration_ms=0.1,
        completed_at=WHEN,
        result={},
        started_by=_started_by(None, None),
        namespace=NAMESPACE,
        event_id=ids[0],
    )
    assert decode(built.value, built.headers, REGISTRY).envelope.id == ids[0]
    assert built == _reference(built, _started_by(None, None))
