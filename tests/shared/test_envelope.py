"""The CloudEvents envelope: defaults, extensions and the checks on time and traceparent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from dpp_shared.envelope import EventEnvelope
from tests.shared.factories import TRACEPARENT


def test_defaults_fill_id_time_and_specversion() -> None:
    envelope = EventEnvelope(source="/s", type="demo.echo.requested.v1", data={})
    assert envelope.specversion == "1.0"
    assert envelope.datacontenttype == "application/json"
    assert uuid.UUID(envelope.id).version == 7
    assert envelope.time.tzinfo is not None
    assert abs(datetime.now(UTC) - envelope.time) < timedelta(minutes=1)


def test_given_id_is_kept_and_ids_differ_otherwise() -> None:
    given = EventEnvelope(id="custom-1", source="/s", type="t", data={})
    assert given.id == "custom-1"
    first = EventEnvelope(source="/s", type="t", data={})
    second = EventEnvelope(source="/s", type="t", data={})
    assert first.id < second.id


def test_extensions_round_trip_through_json() -> None:
    envelope = EventEnvelope(
        source="/s",
        type="t",
        subject="persona/p-1",
        correlationid="corr-1",
        idempotencykey="idem-1",
        traceparent=TRACEPARENT,
        data={"a": 1},
    )
    again = EventEnvelope.model_validate_json(envelope.model_dump_json())
    assert again == envelope


def test_time_is_normalised_to_utc_and_must_carry_a_zone() -> None:
    plus_two = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    envelope = EventEnvelope(source="/s", type="t", time=plus_two, data={})
    assert envelope.time == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert envelope.time.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError, match="timezone"):
        EventEnvelope(source="/s", type="t", time=datetime(2026, 1, 1), data={})


@pytest.mark.parametrize(
    "traceparent", ["", "00-abc-def-01", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"]
)
def test_malformed_traceparent_is_rejected(traceparent: str) -> None:
    with pytest.raises(ValidationError, match="traceparent"):
        EventEnvelope(source="/s", type="t", traceparent=traceparent, data={})


def test_unknown_attributes_and_other_specversions_are_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        EventEnvelope.model_validate(
            {"source": "/s", "type": "t", "data": {}, "specversion": "0.3", "colour": "red"}
        )
    locations = {error["loc"][0] for error in caught.value.errors()}
    assert locations == {"specversion", "colour"}
