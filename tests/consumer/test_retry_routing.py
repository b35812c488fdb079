"""Retry routing: tiers by attempt, the dead-letter topic at the end, failure headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel, ValidationError

from dpp_consumer import retry
from dpp_consumer.errors import JobDeadlineExceededError, PermanentJobError, RetriableJobError
from dpp_consumer.retry import Delivery, Failure, RetryPolicy
from dpp_shared import headers as hdr
from dpp_shared.errors import EventDecodeError
from dpp_shared.topics import TopicNamespace

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(TopicNamespace("p."), max_attempts=4, delays_s=(5.0, 30.0, 120.0))


def first_delivery(attempt: int = 1) -> Delivery:
    return Delivery(attempt, "p.dpp.demo.echo", 2, 41, None)


def headers_of(route: retry.Route) -> dict[str, str]:
    return {name: value.decode() for name, value in route.headers}


@pytest.mark.parametrize(
    ("attempt", "topic", "delay"),
    [
        (1, "p.dpp.demo.echo.retry.1", 5.0),
        (2, "p.dpp.demo.echo.retry.2", 30.0),
        (3, "p.dpp.demo.echo.retry.3", 120.0),
    ],
)
def test_each_failed_attempt_goes_to_the_next_tier_with_its_delay(
    attempt: int, topic: str, delay: float
) -> None:
    route = POLICY.route(
        job_topic="dpp.demo.echo",
        delivery=first_delivery(attempt),
        failure=Failure.of(RetriableJobError("flaky")),
        headers=[("ce_id", b"job-1"), (hdr.ERROR, b"old error")],
        now=NOW,
    )
    assert (route.topic, route.tier, route.dead) == (topic, attempt, False)
    headers = headers_of(route)
    assert headers["ce_id"] == "job-1"
    assert headers[hdr.ERROR] == "flaky"  # the previous attempt's error is replaced
    assert headers[hdr.ATTEMPT] == str(attempt + 1)
    assert headers[hdr.ORIGINAL_TOPIC] == "p.dpp.demo.echo"
    assert headers[hdr.ORIGINAL_PARTITION] == "2"
    assert headers[hdr.ORIGINAL_OFFSET] == "41"
    assert headers[hdr.FAILED_AT] == NOW.isoformat()
    assert datetime.fromisoformat(headers[hdr.NOT_BEFORE]) == NOW + timedelta(seconds=delay)
    assert [name for name, _ in route.headers].count(hdr.ERROR) == 1


def test_the_last_attempt_and_permanent_errors_go_to_the_dead_letters() -> None:
    last = POLICY.route(
        job_topic="dpp.demo.echo",
        delivery=first_delivery(4),
        failure=Failure.of(RetriableJobError("still flaky")),
        headers=[],
        now=NOW,
    )
    assert (last.topic, last.dead) == ("p.dpp.dead-letter", True)
    assert headers_of(last)[hdr.ATTEMPT] == "4"
    assert hdr.NOT_BEFORE not in headers_of(last)
    permanent = POLICY.route(
        job_topic="dpp.demo.echo",
        delivery=first_delivery(1),
        failure=Failure.of(PermanentJobError("never")),
        headers=[],
        now=NOW,
    )
    assert permanent.dead and headers_of(permanent)[hdr.RETRIABLE] == "false"
    undecodable = POLICY.route(
        job_topic=None,
        delivery=first_delivery(1),
        failure=Failure.of(EventDecodeError("not JSON")),
        headers=None,
        now=NOW,
    )
    assert undecodable.dead and headers_of(undecodable)[hdr.ERROR_TYPE] == "EventDecodeError"


class _Model(BaseModel):
    number: int


def test_errors_are_classified_retriable_or_permanent() -> None:
    with pytest.raises(ValidationError) as invalid:
        _Model.model_validate({"number": "x"})
    assert Failure.of(invalid.value).retriable is False
    assert Failure.of(EventDecodeError("bad")).retriable is False
    assert Failure.of(PermanentJobError("no")).retriable is False
    assert Failure.of(JobDeadlineExceededError("slow")).retriable is True
    crash = Failure.of(ZeroDivisionError("division by zero"))
    assert (crash.error_type, crash.retriable) == ("ZeroDivisionError", True)
    assert crash.message == "ZeroDivisionError: division by zero"


def test_delivery_reads_retry_headers_and_tolerates_mangled_ones() -> None:
    fresh = Delivery.of("t", 1, 7, {})
    assert (fresh.attempt, fresh.original_topic, fresh.original_offset) == (1, "t", 7)
    retried = Delivery.of(
        "t.retry.1",
        0,
        3,
        {
            hdr.ATTEMPT: "2",
            hdr.ORIGINAL_TOPIC: "t",
            hdr.ORIGINAL_PARTITION: "1",
            hdr.ORIGINAL_OFFSET: "7",
            hdr.NOT_BEFORE: NOW.isoformat(),
        },
    )
    assert retried == Delivery(2, "t", 1, 7, NOW)
    mangled = Delivery.of("t.retry.1", 0, 3, {hdr.ATTEMPT: "two"})
    assert mangled == Delivery(1, "t.retry.1", 0, 3, None)
