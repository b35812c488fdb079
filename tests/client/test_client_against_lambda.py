"""Done-when: a backend Lambda publishes with the shared client (`dpp_client`) to the API,
served by uvicorn and as a Lambda behind API Gateway, and every acknowledged event is on its
topic with the right key and headers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI

from dpp_client import Event, EventRejectedError, EventsClient
from dpp_producer import lambda_handler
from dpp_shared.topics import DEMO_TOPIC, EMBEDDING_TOPIC, TopicNamespace
from tests.producer import factories
from tests.producer.apigateway import api_gateway
from tests.producer.conftest import AppFactory
from tests.producer.test_lambda import lambda_env  # noqa: F401 - fixture

SOURCE = "urn:dpp:lambda:persona-service"


@contextmanager
def uvicorn_server(app: FastAPI) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def publish_and_verify(base_url: str, bootstrap: str, namespace: TopicNamespace) -> None:
    client = EventsClient(base_url, factories.token(), source=SOURCE)

    result = client.publish(
        "persona.embedding.requested.v1",
        {"persona_id": "persona-9", "texts": ["I love hiking"]},
        subject="persona/persona-9",
        correlation_id="corr-client-1",
        idempotency_key="persona-9-rev-3",
    )
    assert result.topic == namespace.physical(EMBEDDING_TOPIC)
    assert result.key == "persona-9"
    record = factories.read_record(bootstrap, result.topic, result.partition, result.offset)
    assert record.key == b"persona-9"
    assert record.headers["ce_id"].decode() == result.id
    assert record.headers["ce_type"] == b"persona.embedding.requested.v1"
    assert record.headers["ce_source"] == SOURCE.encode()
    assert record.headers["ce_subject"] == b"persona/persona-9"
    assert record.headers["ce_correlationid"] == b"corr-client-1"
    assert record.headers["ce_idempotencykey"] == b"persona-9-rev-3"

    # A retry of the same prepared event is answered from the idempotency store.
    event = Event("demo.echo.requested.v1", {"session_id": "s-client", "message": "hi"})
    first = client.publish_event(event)
    again = client.publish_event(event)
    assert again.replayed and (again.id, again.offset) == (first.id, first.offset)
    assert first.topic == namespace.physical(DEMO_TOPIC)

    batch = client.publish_batch(
        [
            Event("demo.echo.requested.v1", {"session_id": "s-b1", "message": "one"}),
            Event("demo.echo.requested.v1", {"session_id": "s-b2"}),
            Event("demo.echo.requested.v1", {"session_id": "s-b3", "message": "three"}),
        ]
    )
    assert sorted(batch.accepted) == [0, 2]
    assert isinstance(batch.rejected[1].error, EventRejectedError)
    assert not batch.rejected[1].retryable
    for index, session in ((0, b"s-b1"), (2, b"s-b3")):
        accepted = batch.accepted[index]
        stored = factories.read_record(
            bootstrap, accepted.topic, accepted.partition, accepted.offset
        )
        assert stored.key == session
        assert stored.headers["ce_id"].decode() == accepted.id

    with pytest.raises(EventRejectedError) as rejected:
        client.publish("no.such.type.v1", {})
    assert "demo.echo.requested.v1" in rejected.value.known_types


def test_shared_client_against_the_server(
    make_app: AppFactory, kafka_bootstrap: str, topic_namespace: TopicNamespace
) -> None:
    with uvicorn_server(make_app()) as base_url:
        publish_and_verify(base_url, kafka_bootstrap, topic_namespace)


@pytest.mark.usefixtures("lambda_env")
def test_shared_client_against_the_lambda_behind_api_gateway(
    kafka_bootstrap: str, topic_namespace: TopicNamespace
) -> None:
    with api_gateway(lambda_handler.handler) as base_url:
        publish_and_verify(base_url, kafka_bootstrap, topic_namespace)
