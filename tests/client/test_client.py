"""The Lambda client against a scripted loopback peer: retries, Retry-After, time bound, 4xx."""

from __future__ import annotations

import random
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from dpp_client import (
    AuthenticationError,
    BadRequestError,
    ClientConfigurationError,
    ConflictError,
    Event,
    EventRejectedError,
    EventsClient,
    ForbiddenError,
    PayloadTooLargeError,
    ProblemError,
    PublishUnavailableError,
    RetryPolicy,
    ServerError,
)
from dpp_client.retry import retry_after_s
from tests.shared.http_stub import Reply, ScriptedApi, accepted, problem

DATA = {"session_id": "s-1", "message": "hello"}


class RecordedSleep:
    """Records the delays the client asks for instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def _client(api: ScriptedApi, sleep: RecordedSleep | None = None, **policy: Any) -> EventsClient:
    return EventsClient(
        api.url,
        "jwt-token",
        source="urn:test:lambda",
        policy=RetryPolicy(**policy),
        sleep=sleep or RecordedSleep(),
        rng=random.Random(7),
    )


def test_publish_sends_a_structured_cloudevent_with_auth_and_idempotency_key() -> None:
    with ScriptedApi([Reply(202, accepted())]) as api:
        result = _client(api).publish(
            "demo.echo.requested.v1", DATA, subject="s-1", correlation_id="c-1"
        )
    assert (result.id, result.topic, result.partition, result.offset) == (
        "e-1",
        "dpp.demo.echo",
        1,
        7,
    )
    assert result.job == "/v1/jobs/e-1"
    assert not result.replayed
    (request,) = api.received
    assert request.path == "/v1/events"
    assert request.headers["authorization"] == "Bearer jwt-token"
    assert request.headers["content-type"] == "application/json"
    body = request.body
    assert uuid.UUID(body["id"]).version == 7
    assert request.headers["idempotency-key"] == body["idempotencykey"] == body["id"]
    assert body["type"] == "demo.echo.requested.v1"
    assert body["source"] == "urn:test:lambda"
    assert body["specversion"] == "1.0"
    assert body["subject"] == "s-1"
    assert body["correlationid"] == "c-1"
    assert body["data"] == DATA
    assert datetime.fromisoformat(body["time"]).tzinfo is not None
    assert "traceparent" not in body


def test_retry_after_is_honoured_and_the_same_event_is_resent() -> None:
    sleep = RecordedSleep()
    replies = [
        Reply(503, problem(503, "broker slow"), {"Retry-After": "2"}),
        Reply(202, accepted(), {"Idempotent-Replayed": "true"}),
    ]
    with ScriptedApi(replies) as api:
        result = _client(api, sleep, total_timeout_s=10).publish(
            "demo.echo.requested.v1", DATA, idempotency_key="order-42"
        )
    assert result.replayed
    assert len(sleep.delays) == 1
    assert 2.0 <= sleep.delays[0] <= 2.0 + 0.1 * 0.1
    first, second = api.received
    assert first.body == second.body
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "order-42"


def test_retry_after_as_http_date_is_understood() -> None:
    sleep = RecordedSleep()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    replies = [Reply(429, problem(429), {"Retry-After": when}), Reply(202, accepted())]
    with ScriptedApi(replies) as api:
        _client(api, sleep, total_timeout_s=10).publish("demo.echo.requested.v1", DATA)
    assert 1.0 < sleep.delays[0] <= 3.1


def test_without_retry_after_backoff_is_jittered_and_capped() -> None:
    sleep = RecordedSleep()
    replies = [Reply(429, problem(429))] * 5 + [Reply(202, accepted())]
    with ScriptedApi(replies) as api:
        _client(api, sleep, backoff_base_s=0.1, backoff_max_s=0.5, max_attempts=10).publish(
            "demo.echo.requested.v1", DATA
        )
    assert len(api.received) == 6
    ceilings = [min(0.5, 0.1 * 2**n) for n in range(5)]
    assert all(0 <= d <= c for d, c in zip(sleep.delays, ceilings, strict=True))
    assert len(set(sleep.delays)) == len(sleep.delays)  # jittered, not a fixed ladder


def test_gateway_errors_and_html_bodies_are_retried() -> None:
    replies = [
        Reply(502, raw=b"<html>Bad Gateway</html>"),
        Reply(504, raw=b""),
        Reply(202, accepted()),
    ]
    with ScriptedApi(replies) as api:
        result = _client(api).publish("demo.echo.requested.v1", DATA)
    assert result.offset == 7
    assert len(api.received) == 3


def test_persistent_unavailability_stops_at_the_attempt_limit() -> None:
    sleep = RecordedSleep()
    with (
        ScriptedApi([Reply(503, problem(503, "down"), {"Retry-After": "0"})]) as api,
        pytest.raises(PublishUnavailableError) as caught,
    ):
        _client(api, sleep, max_attempts=4).publish("demo.echo.requested.v1", DATA)
    error = caught.value
    assert error.attempts == 4 == len(api.received)
    assert error.status == 503
    assert error.retry_after_s == 0
    assert "attempt limit" in str(error)
    assert "down" in str(error)


def test_retry_after_beyond_the_time_budget_fails_at_once_instead_of_sleeping() -> None:
    sleep = RecordedSleep()
    with (
        ScriptedApi([Reply(503, problem(503), {"Retry-After": "120"})]) as api,
        pytest.raises(PublishUnavailableError) as caught,
    ):
        _client(api, sleep, total_timeout_s=5).publish("demo.echo.requested.v1", DATA)
    assert sleep.delays == []
    assert caught.value.attempts == 1
    assert caught.value.retry_after_s == 120
    assert "time budget" in str(caught.value)


def test_a_hanging_api_cannot_hold_the_caller_beyond_the_total_timeout() -> None:
    policy: dict[str, Any] = {"total_timeout_s": 1.0, "attempt_timeout_s": 0.4, "max_attempts": 50}
    with ScriptedApi([Reply(202, hang=True)]) as api:
        client = EventsClient(
            api.url, "t", source="urn:test", policy=RetryPolicy(**policy), rng=random.Random(1)
        )
        started = time.monotonic()
        with pytest.raises(PublishUnavailableError) as caught:
            client.publish("demo.echo.requested.v1", DATA)
        elapsed = time.monotonic() - started
    assert caught.value.status is None
    assert "timed out" in str(caught.value)
    assert caught.value.attempts >= 2
    # The bound is the feature: the total budget plus at most one socket timeout (the stub
    # holds the connection for 30 s, so without the bound this would take that long).
    assert elapsed <= 1.0 + 0.4 + 2.0  # generous slack for a loaded CI machine


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleep = RecordedSleep()
    client = EventsClient(
        f"http://127.0.0.1:{port}",
        "t",
        source="urn:test",
        policy=RetryPolicy(max_attempts=3),
        sleep=sleep,
    )
    with pytest.raises(PublishUnavailableError) as caught:
        client.publish("demo.echo.requested.v1", DATA)
    assert caught.value.attempts == 3
    assert len(sleep.delays) == 2
    assert "refused" in str(caught.value).lower()


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, ForbiddenError),
        (404, ProblemError),
        (409, ConflictError),
        (413, PayloadTooLargeError),
        (422, EventRejectedError),
        (500, ServerError),
    ],
)
def test_client_errors_raise_typed_errors_without_retrying(
    status: int, error_type: type[ProblemError]
) -> None:
    sleep = RecordedSleep()
    with (
        ScriptedApi([Reply(status, problem(status, "nope"))]) as api,
        pytest.raises(error_type) as caught,
    ):
        _client(api, sleep).publish("demo.echo.requested.v1", DATA)
    assert type(caught.value) is error_type
    assert caught.value.status == status
    assert caught.value.detail == "nope"
    assert len(api.received) == 1
    assert sleep.delays == []


def test_validation_problem_exposes_field_issues_and_known_types() -> None:
    body = problem(
        422,
        "unknown event type 'x.v1'",
        errors=[{"path": "type", "reason": "unknown event type 'x.v1'"}],
        known_types=["demo.echo.requested.v1"],
    )
    with (
        ScriptedApi([Reply(422, body)]) as api,
        pytest.raises(EventRejectedError) as caught,
    ):
        _client(api).publish("x.v1", DATA)
    error = caught.value
    assert [(i.path, i.reason) for i in error.issues] == [("type", "unknown event type 'x.v1'")]
    assert error.known_types == ["demo.echo.requested.v1"]
    assert "type: unknown event type" in str(error)


def test_token_provider_is_asked_on_every_attempt() -> None:
    tokens = iter(["first", "second"])
    replies = [Reply(503, problem(503), {"Retry-After": "0"}), Reply(202, accepted())]
    with ScriptedApi(replies) as api:
        client = EventsClient(
            api.url, lambda: next(tokens), source="urn:test", sleep=RecordedSleep()
        )
        client.publish("demo.echo.requested.v1", DATA)
    assert [r.headers["authorization"] for r in api.received] == ["Bearer first", "Bearer second"]


def _events(count: int) -> list[Event]:
    return [Event("demo.echo.requested.v1", {**DATA, "message": f"m{i}"}) for i in range(count)]


def test_batch_resends_only_retryable_events() -> None:
    events = _events(3)
    first = {
        "accepted_count": 1,
        "failed_count": 2,
        "entries": [
            {"index": 0, "status": 202, **accepted(events[0].id, 1)},
            {"index": 1, "status": 422, "id": events[1].id, "error": problem(422, "bad")},
            {"index": 2, "status": 503, "retryable": True, "error": problem(503, "slow")},
        ],
    }
    second = {
        "accepted_count": 1,
        "failed_count": 0,
        "entries": [{"index": 0, "status": 202, **accepted(events[2].id, 2)}],
    }
    sleep = RecordedSleep()
    with ScriptedApi([Reply(207, first), Reply(207, second)]) as api:
        result = _client(api, sleep).publish_batch(events)
    assert sorted(result.accepted) == [0, 2]
    assert result.accepted[2].offset == 2
    assert list(result.rejected) == [1]
    rejected = result.rejected[1]
    assert isinstance(rejected.error, EventRejectedError)
    assert not rejected.retryable
    assert rejected.event is events[1]
    assert not result.ok
    with pytest.raises(EventRejectedError):
        result.raise_for_rejected()
    first_request, second_request = api.received
    assert first_request.path == second_request.path == "/v1/events:batch"
    assert [e["id"] for e in first_request.body["events"]] == [e.id for e in events]
    assert [e["id"] for e in second_request.body["events"]] == [events[2].id]
    assert first_request.headers["idempotency-key"] != second_request.headers["idempotency-key"]
    assert len(sleep.delays) == 1


def test_batch_retryable_events_stay_rejected_when_time_runs_out() -> None:
    events = _events(1)
    body = {"entries": [{"index": 0, "status": 429, "retryable": True, "error": problem(429)}]}
    with ScriptedApi([Reply(207, body)]) as api:
        result = _client(api, max_attempts=3).publish_batch(events)
    assert result.accepted == {}
    assert result.rejected[0].retryable
    assert len(api.received) >= 2


def test_batch_understands_the_results_shape_too() -> None:
    events = _events(2)
    body = {
        "results": [
            {"index": 0, "status": "accepted", **accepted(events[0].id)},
            {"index": 1, "status": "rejected", "error": problem(403, "scope")},
        ],
        "accepted": 1,
        "rejected": 1,
    }
    with ScriptedApi([Reply(200, body)]) as api:
        result = _client(api).publish_batch(events)
    assert list(result.accepted) == [0]
    assert isinstance(result.rejected[1].error, ForbiddenError)


def test_batch_whole_request_errors_raise() -> None:
    with (
        ScriptedApi([Reply(401, problem(401, "expired"))]) as api,
        pytest.raises(AuthenticationError, match="expired"),
    ):
        _client(api).publish_batch(_events(2))
    with (
        ScriptedApi([Reply(503, problem(503), {"Retry-After": "0"})]) as api,
        pytest.raises(PublishUnavailableError),
    ):
        _client(api, max_attempts=2).publish_batch(_events(2))
    assert len(api.received) == 2


def test_from_env_reads_the_documented_variables() -> None:
    client = EventsClient.from_env(
        {
            "DPP_API_URL": "https://api.example.test/",
            "DPP_API_TOKEN": "tok",
            "DPP_CLIENT_TIMEOUT_S": "3",
            "AWS_LAMBDA_FUNCTION_NAME": "persona-api",
        }
    )
    assert client.base_url == "https://api.example.test"
    assert client.source == "urn:dpp:lambda:persona-api"
    assert client.policy.total_timeout_s == 3.0
    assert client.policy.attempt_timeout_s == 3.0


def test_retry_after_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_s("7") == 7.0
    assert retry_after_s(" 0 ") == 0.0
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
    assert retry_after_s("-3") is None
    assert retry_after_s("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert retry_after_s("Wed, 31 Dec 2025 23:00:00 GMT", now) == 0.0


def test_from_env_names_what_is_missing() -> None:
    with pytest.raises(ClientConfigurationError, match="set DPP_API_URL and DPP_API_TOKEN"):
        EventsClient.from_env({})
    with pytest.raises(ClientConfigurationError, match="DPP_CLIENT_TIMEOUT_S"):
        EventsClient.from_env(
            {"DPP_API_URL": "u", "DPP_API_TOKEN": "t", "DPP_CLIENT_TIMEOUT_S": "x"}
        )


def test_redirects_are_reported_not_followed_as_a_bodyless_get() -> None:
    moved = Reply(301, problem(301, "moved"), {"Location": "http://127.0.0.1:1/v1/events"})
    with (
        ScriptedApi([moved]) as api,
        pytest.raises(ProblemError) as caught,
    ):
        _client(api).publish("demo.echo.requested.v1", DATA)
    assert caught.value.status == 301
    assert len(api.received) == 1
