"""Poison records of every kind land in the dead letters with their reason; the worker goes on."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from confluent_kafka import Producer

from dpp_shared.codec import encode
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY
from dpp_shared.topics import DEAD_LETTER_TOPIC, RESULTS_TOPIC, TopicNamespace
from tests.consumer.harness import produce_echo, read_topic
from tests.consumer.scripted_jobs import ECHO
from tests.faults.conftest import WorkerFactory, completed_job_ids, tally

pytestmark = pytest.mark.slow

OVERSIZED_BYTES = 600_000  # far beyond any payload limit, still under the broker's 1 MB


def _echo_record(
    namespace: TopicNamespace, session_id: str, message: str
) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    event_type = REGISTRY.get(ECHO)
    payload = event_type.payload.model_validate({"session_id": session_id, "message": message})
    envelope = EventEnvelope(
        source="/tests/faults", type=ECHO, data=payload.model_dump(mode="json")
    )
    record = encode(envelope, payload, event_type, namespace)
    return record.topic, record.value, list(record.headers)


def _replace(
    headers: list[tuple[str, bytes]], name: str, value: bytes | None
) -> list[tuple[str, bytes]]:
    kept = [(key, raw) for key, raw in headers if key != name]
    return kept if value is None else [*kept, (name, value)]


def _poison(namespace: TopicNamespace) -> dict[str, tuple[str, bytes, list[tuple[str, bytes]]]]:
    """One record per kind of poison, keyed by the kind (also used as the record key)."""
    topic, value, headers = _echo_record(namespace, "valid", "valid")
    _, crash_value, crash_headers = _echo_record(namespace, "handler-exception", "crash")
    headless = _replace(_replace(headers, "ce_specversion", None), "ce_type", None)
    oversized = json.dumps({"session_id": "oversized", "message": "x" * OVERSIZED_BYTES}).encode()
    return {
        "not-json": (topic, b"{this is not json", headers),
        "wrong-headers": (topic, value, headless),
        "unknown-type": (topic, value, _replace(headers, "ce_type", b"no.such.event.v1")),
        "invalid-payload": (topic, json.dumps({"session_id": "invalid"}).encode(), headers),
        "handler-exception": (topic, crash_value, crash_headers),
        "oversized": (topic, oversized, headers),
    }  # fmt: skip


def test_every_kind_of_poison_is_dead_lettered_with_its_reason_and_the_worker_goes_on(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    sqlite_url: str,
    start_worker: WorkerFactory,
    tmp_path: Path,
) -> None:
    worker = start_worker(sqlite_url, DPP_MAX_ATTEMPTS="2", DPP_RETRY_DELAYS_S="0")
    worker.wait_for_log("partitions assigned")
    poison = _poison(topic_namespace)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 2_000_000})
    for kind, (topic, value, headers) in poison.items():
        producer.produce(topic, value, kind.encode(), headers=headers)  # type: ignore[arg-type]
    assert producer.flush(15) == 0
    healthy = produce_echo(kafka_bootstrap, topic_namespace, ["still alive"], session_id="after")

    dead = read_topic(
        kafka_bootstrap,
        topic_namespace.physical(DEAD_LETTER_TOPIC),
        until=lambda records: {(r.key or b"").decode() for r in records} >= set(poison),
        timeout_s=90,
        settle_s=1.0,
    )
    completed = read_topic(
        kafka_bootstrap,
        topic_namespace.physical(RESULTS_TOPIC),
        until=lambda records: set(completed_job_ids(records)) >= set(healthy),
        timeout_s=60,
    )
    kinds = [(r.key or b"").decode() for r in dead]
    counts = tally(poison, kinds)
    reasons = {(r.key or b"").decode(): r.headers.get("dpp-error-type") for r in dead}
    for record in dead:
        print(f"  {(record.key or b'').decode()}: {record.headers.get('dpp-error', '')[:120]}")
    counts.report("poison-records", reasons=json.dumps(reasons, sort_keys=True))
    assert counts.lost == 0 and counts.duplicated == 0
    for record in dead:
        assert record.headers.get("dpp-error-type"), record.headers
        assert record.headers.get("dpp-error"), record.headers
        assert record.headers.get("dpp-original-topic") == topic_namespace.physical("dpp.demo.echo")
    assert reasons["handler-exception"] == "ValueError"
    assert json.loads(dict(zip(kinds, dead, strict=True))["oversized"].value or b"{}")["message"]
    assert completed_job_ids(completed) == healthy, "the worker kept going after the poison"
    assert worker.process.poll() is None
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0
