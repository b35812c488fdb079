"""POST /v1/events against the real broker: the acknowledged record, and every error code."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from fastapi.testclient import TestClient

from dpp_producer.auth import mint_token
from dpp_shared.events import REGISTRY
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from tests.producer import factories
from tests.producer.conftest import AppFactory

PROBLEM = "application/problem+json"


class HttpResponse(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


def assert_problem(response: HttpResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"] and body["detail"]
    return body


def test_accepted_event_is_on_its_topic_with_key_and_headers(
    client: TestClient, kafka_bootstrap: str, topic_namespace: TopicNamespace
) -> None:
    event = factories.demo_event("session-42", "hi", correlationid="corr-1", subject="s")
    response = client.post("/v1/events", json=event, headers=factories.auth("events:demo"))

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["topic"] == topic_namespace.physical(DEMO_TOPIC)
    assert body["key"] == "session-42"
    assert body["type"] == factories.DEMO_TYPE
    assert response.headers["location"] == f"/v1/jobs/{body['id']}"
    record = factories.read_record(
        kafka_bootstrap, body["topic"], body["partition"], body["offset"]
    )
    assert record.key == b"session-42"
    assert json.loads(record.value or b"") == {"session_id": "session-42", "message": "hi"}
    assert record.headers["ce_id"].decode() == body["id"]
    assert record.headers["ce_type"] == factories.DEMO_TYPE.encode()
    assert record.headers["ce_source"] == b"urn:test"
    assert record.headers["ce_correlationid"] == b"corr-1"
    assert record.headers["ce_subject"] == b"s"
    assert record.headers["content-type"] == b"application/json"
    assert record.headers["ce_dataschema"] == f"urn:dpp:schema:{factories.DEMO_TYPE}".encode()


def test_client_event_id_is_scoped_and_cloudevents_content_type_is_kept(
    client: TestClient, kafka_bootstrap: str
) -> None:
    event = factories.demo_event(id="client-chosen-id-1")
    response = client.post(
        "/v1/events",
        content=json.dumps(event),
        headers={**factories.auth(), "Content-Type": "application/cloudevents+json; charset=utf-8"},
    )
    assert response.status_code == 202, response.text
    # The client's id, scoped to its subject and signed (dpp_producer.event_ids): a resend
    # gets the same id, another subject's event with the same id would get another.
    assert response.json()["id"] == factories.scoped_id("client-chosen-id-1")


def test_correlation_id_from_header_reaches_the_record(
    client: TestClient, kafka_bootstrap: str
) -> None:
    headers = {**factories.auth(subject="svc-7"), "X-Correlation-Id": "from-header-7"}
    event = factories.demo_event()
    del event["source"]
    response = client.post("/v1/events", json=event, headers=headers)
    assert response.status_code == 202
    assert response.headers["x-correlation-id"] == "from-header-7"
    body = response.json()
    record = factories.read_record(
        kafka_bootstrap, body["topic"], body["partition"], body["offset"]
    )
    assert record.headers["ce_correlationid"] == b"from-header-7"
    assert record.headers["ce_source"] == b"urn:dpp:producer-api/svc-7"


def test_malformed_json_is_400_with_position(client: TestClient) -> None:
    response = client.post(
        "/v1/events",
        content=b'{"type": ',
        headers={**factories.auth(), "Content-Type": "application/json"},
    )
    body = assert_problem(response, 400)
    assert body["errors"][0]["path"] == "$"
    assert "line 1" in body["errors"][0]["reason"]


def test_missing_and_invalid_and_expired_tokens_are_401(client: TestClient) -> None:
    missing = client.post("/v1/events", json=factories.demo_event())
    assert_problem(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    forged = client.post(
        "/v1/events", json=factories.demo_event(), headers={"Authorization": "Bearer not.a.jwt"}
    )
    assert_problem(forged, 401)
    wrong_secret = mint_token("x" * 40, subject="a", scope="events:*")
    assert_problem(
        client.post(
            "/v1/events",
            json=factories.demo_event(),
            headers={"Authorization": f"Bearer {wrong_secret}"},
        ),
        401,
    )
    expired = mint_token(factories.TEST_SECRET, subject="a", scope="events:*", ttl_s=-120)
    body = assert_problem(
        client.post(
            "/v1/events",
            json=factories.demo_event(),
            headers={"Authorization": f"Bearer {expired}"},
        ),
        401,
    )
    assert "expired" in body["detail"]


def test_scope_without_the_event_type_is_403(client: TestClient) -> None:
    response = client.post(
        "/v1/events", json=factories.embedding_event(), headers=factories.auth("events:demo")
    )
    body = assert_problem(response, 403)
    assert body["required_scope"] == "events:persona.embedding"


def test_body_over_the_limit_is_413(make_app: AppFactory) -> None:
    with TestClient(make_app(DPP_PRODUCER_MAX_BODY_BYTES=2048)) as small:
        event = factories.demo_event(message="x" * 3000)
        assert_problem(small.post("/v1/events", json=event, headers=factories.auth()), 413)

        def chunks() -> Iterator[bytes]:
            # No Content-Length: the limit must hold while streaming too.
            yield b'{"type": "demo.echo.requested.v1", "data": {"message": "'
            for _ in range(10):
                yield b"y" * 512
            yield b'"}}'

        streamed = small.post(
            "/v1/events",
            content=chunks(),
            headers={**factories.auth(), "Content-Type": "application/json"},
        )
        assert_problem(streamed, 413)


def test_wrong_content_type_is_415(client: TestClient) -> None:
    response = client.post(
        "/v1/events", content=b"type=x", headers={**factories.auth(), "Content-Type": "text/plain"}
    )
    body = assert_problem(response, 415)
    assert "application/json" in body["supported"]


def test_schema_violation_is_422_with_field_paths(client: TestClient) -> None:
    event = factories.demo_event()
    del event["data"]["message"]
    event["data"]["extra"] = 1
    body = assert_problem(client.post("/v1/events", json=event, headers=factories.auth()), 422)
    paths = {issue["path"] for issue in body["errors"]}
    assert paths == {"data.message", "data.extra"}
    envelope_broken = client.post(
        "/v1/events",
        json={"type": factories.DEMO_TYPE, "specversion": "0.3", "data": {}},
        headers=factories.auth(),
    )
    assert "specversion" in {i["path"] for i in assert_problem(envelope_broken, 422)["errors"]}
    not_an_object = client.post("/v1/events", json=[1, 2], headers=factories.auth())
    assert assert_problem(not_an_object, 422)["errors"][0]["path"] == "$"


def test_unknown_type_is_422_listing_known_types(client: TestClient) -> None:
    event = {"type": "no.such.type.v1", "source": "urn:test", "data": {}}
    body = assert_problem(client.post("/v1/events", json=event, headers=factories.auth()), 422)
    assert body["known_types"] == REGISTRY.names()
    assert body["errors"][0]["path"] == "type"


def test_full_local_queue_is_429(make_app: AppFactory, topic_namespace: TopicNamespace) -> None:
    # One record fits the queue; a long linger keeps it there while the second request arrives,
    # and a flush afterwards sends it at once (flush does not wait for linger.ms).
    app = make_app(
        DPP_PRODUCER_QUEUE_LIMIT=1, DPP_PRODUCER_ACK_TIMEOUT_S=60, kafka={"linger_ms": 20_000}
    )
    with TestClient(app) as client:
        publisher = app.state.runtime.publisher
        first: dict[str, int] = {}

        def send_first() -> None:
            first["status"] = client.post(
                "/v1/events", json=factories.demo_event(), headers=factories.auth()
            ).status_code

        sender = threading.Thread(target=send_first)
        sender.start()
        deadline = time.monotonic() + 30
        while publisher.queue_depth() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert publisher.queue_depth() == 1
        second = client.post("/v1/events", json=factories.demo_event(), headers=factories.auth())
        body = assert_problem(second, 429)
        assert "queue" in body["detail"]
        assert int(second.headers["retry-after"]) >= 1
        assert publisher.flush(30) == 0
        sender.join(timeout=60)
        assert first["status"] == 202
        metrics = client.get("/metrics").text
        assert 'dpp_producer_produce_errors_total{reason="queue_full"} 1.0' in metrics


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404)
    assert_problem(client.get("/v1/events", headers=factories.auth()), 405)


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"broker": "reachable"}
    client.post("/v1/events", json=factories.demo_event(), headers=factories.auth())
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'dpp_producer_requests_total{method="POST",route="/v1/events",status="202"}' in text
    assert 'dpp_producer_events_accepted_total{event_type="demo.echo.requested.v1"} 1.0' in text
    assert "dpp_producer_request_duration_seconds_bucket" in text
    assert "dpp_producer_queue_depth 0.0" in text


def test_cors_preflight_from_the_configured_origin(make_app: AppFactory) -> None:
    with TestClient(make_app(CORS_ORIGIN="https://app.example.com")) as client:
        preflight = client.options(
            "/v1/events",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
        other = client.options(
            "/v1/events",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers
