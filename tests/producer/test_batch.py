"""POST /v1/events:batch: per-event outcomes, partial failure and limits, on the real broker."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.producer import factories
from tests.producer.conftest import AppFactory
from tests.producer.test_events import assert_problem


def test_partial_failure_reports_each_event_and_produces_the_good_ones(
    client: TestClient, kafka_bootstrap: str
) -> None:
    bad_payload = factories.demo_event()
    del bad_payload["data"]["message"]
    events = [
        factories.demo_event("s-1", "first"),
        bad_payload,
        factories.embedding_event(),  # the token may only publish demo events
        {"type": "no.such.type.v1", "data": {}},
        "not an object",
        factories.demo_event("s-2", "second", id="batch-event-2"),
    ]
    response = client.post(
        "/v1/events:batch", json={"events": events}, headers=factories.auth("events:demo")
    )

    assert response.status_code == 207, response.text
    body = response.json()
    assert body["accepted_count"] == 2
    assert body["failed_count"] == 4
    entries = body["entries"]
    assert [entry["index"] for entry in entries] == list(range(6))
    assert [entry["status"] for entry in entries] == [202, 422, 403, 422, 422, 202]
    assert entries[1]["error"]["errors"] == [
        {"path": "events.1.data.message", "reason": "Field required"}
    ]
    assert entries[3]["error"]["known_types"]
    assert entries[4]["error"]["errors"][0]["path"] == "events.4"
    assert entries[5]["id"] == factories.scoped_id("batch-event-2")
    assert not any(entry["retryable"] for entry in entries)
    for entry, (session, message) in (
        (entries[0], ("s-1", "first")),
        (entries[5], ("s-2", "second")),
    ):
        record = factories.read_record(
            kafka_bootstrap, entry["topic"], entry["partition"], entry["offset"]
        )
        assert record.key == session.encode()
        assert json.loads(record.value or b"")["message"] == message
        assert record.headers["ce_id"].decode() == entry["id"]


def test_a_bare_cloudevents_batch_array_is_accepted(client: TestClient) -> None:
    events = [factories.demo_event(f"s-{i}") for i in range(20)]
    response = client.post(
        "/v1/events:batch",
        content=json.dumps(events),
        headers={**factories.auth(), "Content-Type": "application/cloudevents-batch+json"},
    )
    assert response.status_code == 207
    body = response.json()
    assert body["accepted_count"] == 20 and body["failed_count"] == 0
    assert len({entry["id"] for entry in body["entries"]}) == 20


def test_batch_over_the_configured_size_is_413(make_app: AppFactory) -> None:
    with TestClient(make_app(DPP_PRODUCER_MAX_BATCH=3)) as client:
        events = [factories.demo_event() for _ in range(4)]
        body = assert_problem(
            client.post("/v1/events:batch", json={"events": events}, headers=factories.auth()), 413
        )
        assert body["max_batch"] == 3


def test_batch_shape_errors(client: TestClient) -> None:
    assert_problem(
        client.post("/v1/events:batch", json={"events": []}, headers=factories.auth()), 422
    )
    assert_problem(
        client.post("/v1/events:batch", json={"evts": []}, headers=factories.auth()), 422
    )
    assert_problem(client.post("/v1/events:batch", json={"events": []}), 401)
    assert_problem(
        client.post(
            "/v1/events:batch",
            content=b"[",
            headers={**factories.auth(), "Content-Type": "application/json"},
        ),
        400,
    )
    assert_problem(
        client.post(
            "/v1/events:batch",
            content=b"[]",
            headers={**factories.auth(), "Content-Type": "text/csv"},
        ),
        415,
    )


def test_events_beyond_the_local_queue_are_retryable_429_entries_and_the_rest_land(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    # A batch is handed to the producer back to back: with room for two records (held by the
    # linger), the other three do not fit and must come back as retryable 429 entries.
    app = make_app(
        DPP_PRODUCER_QUEUE_LIMIT=2, DPP_PRODUCER_ACK_TIMEOUT_S=60, kafka={"linger_ms": 200}
    )
    events = [factories.demo_event(f"s-{i}", f"message {i}") for i in range(5)]
    with TestClient(app) as client:
        response = client.post(
            "/v1/events:batch", json={"events": events}, headers=factories.auth()
        )
        metrics = client.get("/metrics").text

    assert response.status_code == 207, response.text
    body = response.json()
    entries = body["entries"]
    assert (body["accepted_count"], body["failed_count"]) == (2, 3)
    assert [entry["status"] for entry in entries] == [202, 202, 429, 429, 429]
    assert [entry["retryable"] for entry in entries] == [False, False, True, True, True]
    assert all("queue" in entry["error"]["detail"] for entry in entries[2:])
    assert 'dpp_producer_produce_errors_total{reason="queue_full"} 3.0' in metrics
    assert 'dpp_producer_events_accepted_total{event_type="demo.echo.requested.v1"} 2.0' in metrics
    for index, entry in enumerate(entries[:2]):
        record = factories.read_record(
            kafka_bootstrap, entry["topic"], entry["partition"], entry["offset"]
        )
        assert json.loads(record.value or b"")["message"] == f"message {index}"
        assert record.headers["ce_id"].decode() == entry["id"]
