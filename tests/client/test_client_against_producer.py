"""The Lambda client end to end: the real producer API (uvicorn on loopback) and the real broker."""

from __future__ import annotations

import time
from contextlib import suppress

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from dpp_client import (
    AuthenticationError,
    Event,
    EventRejectedError,
    EventsClient,
    ForbiddenError,
    PublishResult,
    RetryPolicy,
)
from dpp_producer.auth import mint_token
from dpp_producer.settings import SANDBOX_JWT_SECRET
from dpp_shared.codec import DecodedEvent, decode
from dpp_shared.events import REGISTRY
from dpp_shared.topics import DEMO_TOPIC, EMBEDDING_TOPIC, TopicNamespace
from tests.fixtures.kafka import delete_groups
from tests.producer.factories import scoped_id
from tests.shared.factories import TRACEPARENT

DEMO = "demo.echo.requested.v1"
EMBEDDING = "persona.embedding.requested.v1"
SUBJECT = "persona-lambda"


def _client(
    api_url: str, scope: str = "events:*", secret: str = SANDBOX_JWT_SECRET
) -> EventsClient:
    token = mint_token(secret, subject=SUBJECT, scope=scope, ttl_s=600)
    # A generous attempt timeout: the API's first request after start-up connects to the broker
    # and migrates its store, and a retry would (correctly) come back as a replayed answer.
    policy = RetryPolicy(total_timeout_s=60, attempt_timeout_s=30)
    return EventsClient(api_url, token, source="urn:dpp:lambda:persona-api", policy=policy)


def _read_back(kafka_bootstrap: str, admin: AdminClient, result: PublishResult) -> DecodedEvent:
    group = f"t-client-e2e-{result.id}"
    consumer = Consumer(
        {"bootstrap.servers": kafka_bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition(result.topic, result.partition, result.offset)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                return decode(message.value(), message.headers(), REGISTRY)
        raise AssertionError(f"record {result} not readable")
    finally:
        consumer.close()
        with suppress(Exception):
            delete_groups(admin, [group])


def test_publish_lands_on_the_topic_as_the_event_the_client_built(
    api_url: str, kafka_bootstrap: str, kafka_admin: AdminClient, topic_namespace: TopicNamespace
) -> None:
    client = _client(api_url)
    event = Event(
        EMBEDDING,
        {"persona_id": "p-42", "texts": ["I love hiking."]},
        subject="persona/p-42",
        correlation_id="req-1",
        traceparent=TRACEPARENT,
    )
    result = client.publish_event(event)

    # The API scopes the client's id to the token subject (dpp_producer.event_ids).
    assert result.id == scoped_id(event.id, SUBJECT)
    assert result.type == EMBEDDING
    assert result.topic == topic_namespace.physical(EMBEDDING_TOPIC)
    assert result.key == "p-42"
    assert result.offset >= 0
    assert not result.replayed
    decoded = _read_back(kafka_bootstrap, kafka_admin, result)
    envelope = decoded.envelope
    assert envelope.id == result.id
    assert envelope.source == "urn:dpp:lambda:persona-api"
    assert envelope.idempotencykey == event.key
    assert envelope.correlationid == "req-1"
    assert envelope.subject == "persona/p-42"
    assert envelope.traceparent == TRACEPARENT
    assert decoded.payload.model_dump()["texts"] == ["I love hiking."]


def test_resending_the_same_event_is_replayed_not_duplicated(api_url: str) -> None:
    client = _client(api_url)
    event = Event(DEMO, {"session_id": "s-1", "message": "once"})
    first = client.publish_event(event)
    again = client.publish_event(event)
    assert again.replayed
    assert (again.id, again.topic, again.partition, again.offset) == (
        first.id,
        first.topic,
        first.partition,
        first.offset,
    )


def test_batch_accepts_good_events_and_reports_bad_ones(
    api_url: str, topic_namespace: TopicNamespace
) -> None:
    events = [
        Event(DEMO, {"session_id": "s-1", "message": "a"}),
        Event(DEMO, {"session_id": "", "message": "b"}),
        Event(DEMO, {"session_id": "s-3", "message": "c"}),
    ]
    result = _client(api_url).publish_batch(events)
    assert sorted(result.accepted) == [0, 2]
    assert {r.topic for r in result.accepted.values()} == {topic_namespace.physical(DEMO_TOPIC)}
    assert [result.accepted[i].id for i in (0, 2)] == [
        scoped_id(events[0].id, SUBJECT),
        scoped_id(events[2].id, SUBJECT),
    ]
    rejected = result.rejected[1]
    assert isinstance(rejected.error, EventRejectedError)
    assert not rejected.retryable
    assert any(issue.path.endswith("data.session_id") for issue in rejected.error.issues)


def test_unknown_type_raises_with_the_known_types(api_url: str) -> None:
    with pytest.raises(EventRejectedError) as caught:
        _client(api_url).publish("persona.unknown.v1", {"persona_id": "p"})
    assert caught.value.status == 422
    assert DEMO in caught.value.known_types


def test_scope_and_token_problems_raise_typed_errors(api_url: str) -> None:
    with pytest.raises(ForbiddenError):
        _client(api_url, scope="events:demo").publish(
            EMBEDDING, {"persona_id": "p", "texts": ["x"]}
        )
    with pytest.raises(AuthenticationError):
        _client(api_url, secret="another-secret-that-is-long-enough-0123").publish(
            DEMO, {"session_id": "s", "message": "m"}
        )
