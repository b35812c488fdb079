"""Idempotency-Key: replays the first answer, produces nothing twice, 409 on reuse."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from tests.producer import factories
from tests.producer.conftest import AppFactory
from tests.producer.test_events import assert_problem


def test_same_key_same_body_replays_and_produces_nothing_new(
    make_app: AppFactory, database_url: str, kafka_bootstrap: str, topic_namespace: TopicNamespace
) -> None:
    topic = topic_namespace.physical(DEMO_TOPIC)
    with TestClient(make_app(database_url=database_url)) as client:
        headers = {**factories.auth(), "Idempotency-Key": "order-123"}
        first = client.post("/v1/events", json=factories.demo_event("k"), headers=headers)
        assert first.status_code == 202
        assert "idempotent-replayed" not in first.headers
        written = sum(factories.end_offsets(kafka_bootstrap, topic).values())

        # Same body with other whitespace and key order is the same request.
        event = factories.demo_event("k")
        reordered = dict(reversed(list(event.items())))
        again = client.post("/v1/events", json=reordered, headers=headers)
        assert again.status_code == 202
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert sum(factories.end_offsets(kafka_bootstrap, topic).values()) == written

        body = factories.read_record(
            kafka_bootstrap, topic, first.json()["partition"], first.json()["offset"]
        )
        assert body.headers["ce_idempotencykey"] == b"order-123"

        conflict = client.post("/v1/events", json=factories.demo_event("other"), headers=headers)
        assert_problem(conflict, 409)

        # Keys belong to the principal: another caller may use the same key.
        other_caller = {**factories.auth(subject="someone-else"), "Idempotency-Key": "order-123"}
        assert (
            client.post("/v1/events", json=factories.demo_event("k"), headers=other_caller).json()[
                "id"
            ]
            != first.json()["id"]
        )


def test_batch_replay(make_app: AppFactory, sqlite_url: str) -> None:
    with TestClient(make_app()) as client:
        headers = {**factories.auth(), "Idempotency-Key": "batch-1"}
        events = {"events": [factories.demo_event("a"), factories.demo_event("b")]}
        first = client.post("/v1/events:batch", json=events, headers=headers)
        again = client.post("/v1/events:batch", json=events, headers=headers)
        assert first.status_code == again.status_code == 207
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        # The same key on the other route is a different request.
        assert_problem(
            client.post("/v1/events", json=factories.demo_event("a"), headers=headers), 409
        )


def test_retry_after_the_answer_was_lost_keeps_the_event_id(make_app: AppFactory) -> None:
    # An expired answer stands in for one never stored (a 503 whose record landed later): the
    # retry is produced again, with the same event id, so the consumer dedupes the job.
    with TestClient(make_app(DPP_IDEMPOTENCY_TTL_S=0.001)) as client:
        headers = {**factories.auth(), "Idempotency-Key": "short-lived"}
        first = client.post("/v1/events", json=factories.demo_event(), headers=headers)
        second = client.post("/v1/events", json=factories.demo_event(), headers=headers)
        assert first.status_code == second.status_code == 202
        assert "idempotent-replayed" not in second.headers
        assert first.json()["id"] == second.json()["id"]
        assert first.json()["offset"] != second.json()["offset"]
        other_body = client.post("/v1/events", json=factories.demo_event("other"), headers=headers)
        assert other_body.json()["id"] != first.json()["id"]
        unkeyed = client.post("/v1/events", json=factories.demo_event(), headers=factories.auth())
        assert unkeyed.json()["id"] != first.json()["id"]
        batch = {"events": [factories.demo_event(), factories.demo_event()]}
        once = client.post("/v1/events:batch", json=batch, headers=headers).json()["entries"]
        twice = client.post("/v1/events:batch", json=batch, headers=headers).json()["entries"]
        assert [e["id"] for e in once] == [e["id"] for e in twice]
        assert once[0]["id"] != once[1]["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\x01key"])
def test_invalid_idempotency_key_is_400(client: TestClient, key: str) -> None:
    response = client.post(
        "/v1/events",
        json=factories.demo_event(),
        headers={**factories.auth(), "Idempotency-Key": key},
    )
    assert_problem(response, 400)
