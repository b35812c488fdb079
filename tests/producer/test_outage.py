"""Broker outage: a bounded 503 with Retry-After while it is down, recovery when it is back."""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
from fastapi.testclient import TestClient

from dpp_cli.sandbox import KafkaSandbox
from dpp_ops.ports import free_port
from dpp_ops.topic_admin import apply_topics
from dpp_producer.app import create_app
from dpp_producer.log import SERVICE_NAME
from dpp_shared.settings import KafkaSettings, TopicSettings
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace, declared_topics
from tests.producer import factories
from tests.producer.test_events import assert_problem

ACK_TIMEOUT_S = 2.0
RETRY_AFTER_S = 3
# Generous slack over the bound for a loaded CI machine; what matters is that it is bounded.
SLACK_S = 8.0
RECOVERY_DEADLINE_S = 120.0


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaSandbox]:
    """A second, private broker this test may stop and start (never the shared one)."""
    sandbox = KafkaSandbox(tmp_path / "broker", port=free_port(), controller_port=free_port())
    sandbox.up()
    try:
        yield sandbox
    finally:
        sandbox.down()


def _ids_on_topic(bootstrap: str, topic: str, wanted: set[str], deadline_s: float) -> set[str]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-outage-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    seen: set[str] = set()
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + deadline_s
        while not wanted <= seen and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            seen.add(factories.header_bytes(message.headers())["ce_id"].decode())
    finally:
        consumer.close()
    return seen


@pytest.mark.slow
def test_outage_answers_503_within_the_bound_then_recovers(
    own_broker: KafkaSandbox, sqlite_url: str
) -> None:
    bootstrap = f"127.0.0.1:{own_broker.port}"
    namespace = TopicNamespace("outage.")
    apply_topics(AdminClient({"bootstrap.servers": bootstrap}), declared_topics()[:1], namespace)
    app = create_app(
        factories.settings(
            sqlite_url,
            DPP_PRODUCER_ACK_TIMEOUT_S=ACK_TIMEOUT_S,
            DPP_PRODUCER_RETRY_AFTER_S=RETRY_AFTER_S,
            DPP_PRODUCER_READINESS_CACHE_S=0,
        ),
        # Keep records queued across the restart, to show the at-least-once hand-over.
        kafka=KafkaSettings(bootstrap_servers=bootstrap, delivery_timeout_ms=300_000),
        topics=TopicSettings(topic_prefix=namespace.prefix),
    )
    with TestClient(app) as client:
        before = client.post("/v1/events", json=factories.demo_event(), headers=factories.auth())
        assert before.status_code == 202, before.text

        own_broker.down()
        started = time.monotonic()
        during = client.post(
            "/v1/events",
            json=factories.demo_event(id="sent-during-outage"),
            headers=factories.auth(),
        )
        elapsed = time.monotonic() - started
        body = assert_problem(during, 503)
        assert during.headers["retry-after"] == str(RETRY_AFTER_S)
        assert elapsed < ACK_TIMEOUT_S + SLACK_S
        assert "Idempotency-Key" in body["detail"]
        assert client.get("/readyz").status_code == 503
        batch = client.post(
            "/v1/events:batch", json={"events": [factories.demo_event()]}, headers=factories.auth()
        )
        assert batch.status_code == 207
        assert batch.json()["entries"][0]["status"] == 503
        assert batch.json()["entries"][0]["retryable"] is True

        own_broker.up()
        deadline = time.monotonic() + RECOVERY_DEADLINE_S
        status = 0
        while time.monotonic() < deadline:
            after = client.post(
                "/v1/events",
                json=factories.demo_event(id="sent-after-recovery"),
                headers=factories.auth(),
            )
            status = after.status_code
            if status == 202:
                break
        assert status == 202, "the app did not recover without a restart"
        assert client.get("/readyz").status_code == 200
        metrics = client.get("/metrics").text
        assert 'dpp_producer_produce_errors_total{reason="ack_timeout"}' in metrics

    # The record that timed out was still queued and reached the broker: at-least-once.
    topic = namespace.physical(DEMO_TOPIC)
    # The records carry the client's ids scoped to its subject (dpp_producer.event_ids).
    wanted = {
        factories.scoped_id("sent-during-outage"),
        factories.scoped_id("sent-after-recovery"),
        before.json()["id"],
    }
    assert wanted <= _ids_on_topic(bootstrap, topic, wanted, deadline_s=60)


class _Records(logging.Handler):
    """Every record the producer's logger emits during a test."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def producer_log() -> Iterator[_Records]:
    handler = _Records()
    producer_logger = logging.getLogger(SERVICE_NAME)
    producer_logger.addHandler(handler)
    try:
        yield handler
    finally:
        producer_logger.removeHandler(handler)


@pytest.mark.slow
def test_a_paused_broker_logs_one_line_per_503_and_tracebacks_only_for_the_unexpected(
    own_broker: KafkaSandbox, sqlite_url: str, producer_log: _Records
) -> None:
    bootstrap = f"127.0.0.1:{own_broker.port}"
    namespace = TopicNamespace(f"paused{uuid.uuid4().hex[:6]}.")
    apply_topics(AdminClient({"bootstrap.servers": bootstrap}), declared_topics()[:1], namespace)
    app = create_app(
        factories.settings(
            sqlite_url,
            DPP_PRODUCER_ACK_TIMEOUT_S=ACK_TIMEOUT_S,
            DPP_PRODUCER_RETRY_AFTER_S=RETRY_AFTER_S,
        ),
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        topics=TopicSettings(topic_prefix=namespace.prefix),
    )

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    state = own_broker.read_state()
    assert state is not None
    with TestClient(app, raise_server_exceptions=False) as client:
        before = client.post("/v1/events", json=factories.demo_event(), headers=factories.auth())
        assert before.status_code == 202, before.text
        os.kill(state.pid, signal.SIGSTOP)  # paused: connected, but nothing acknowledges
        try:
            for _ in range(2):
                during = client.post(
                    "/v1/events", json=factories.demo_event(), headers=factories.auth()
                )
                assert_problem(during, 503)
        finally:
            os.kill(state.pid, signal.SIGCONT)
        assert_problem(client.get("/boom"), 500)

    failures = [r for r in producer_log.records if r.levelno >= logging.WARNING]
    outage = [r for r in failures if r.getMessage().startswith("request answered 503: ")]
    assert len(outage) == 2, [r.getMessage() for r in failures]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in outage)
    assert "acknowledge" in outage[0].getMessage(), outage[0].getMessage()
    [unexpected] = [r for r in failures if r not in outage]
    assert unexpected.levelno == logging.ERROR and unexpected.exc_info is not None
    assert isinstance(unexpected.exc_info[1], RuntimeError)
