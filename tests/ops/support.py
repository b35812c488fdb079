"""Helpers of the operator-interface tests: produce jobs, commit offsets, read topics, wait."""

from __future__ import annotations

import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from dpp_shared.codec import encode
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY
from dpp_shared.topics import TopicNamespace


def produce_echo_jobs(bootstrap: str, namespace: TopicNamespace, count: int) -> list[str]:
    """``count`` demo.echo jobs with distinct session keys (spread over partitions); their ids."""
    event_type = REGISTRY.get("demo.echo.requested.v1")
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    ids = []
    for n in range(count):
        payload = event_type.payload.model_validate({"session_id": f"s-{n}", "message": f"m{n}"})
        envelope = EventEnvelope(
            source="/tests/ops", type=event_type.name, data=payload.model_dump(mode="json")
        )
        record = encode(envelope, payload, event_type, namespace)
        producer.produce(
            record.topic, record.value, record.key, headers=_kafka_headers(record.headers)
        )
        producer.poll(0)
        ids.append(envelope.id)
    assert producer.flush(30) == 0
    return ids


def produce_plain(
    bootstrap: str,
    topic: str,
    count: int,
    *,
    partition: int | None = None,
    headers: Sequence[tuple[str, bytes]] | None = None,
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    kafka_headers = _kafka_headers(headers)
    for n in range(count):
        value, key = f"v{n}".encode(), f"k{n}".encode()
        if partition is None:
            producer.produce(topic, value, key, headers=kafka_headers)
        else:
            producer.produce(topic, value, key, partition=partition, headers=kafka_headers)
    assert producer.flush(15) == 0


def commit_offsets(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit offsets for ``group`` without joining it (the group then has no members)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()


def read_all(bootstrap: str, topic: str, partitions: int, timeout_s: float = 20.0) -> list[object]:
    """Every record of ``topic`` (assign from the start to EOF on every partition)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "unused-tests-ops",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    records: list[object] = []
    done: set[int] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while len(done) < partitions and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    done.add(message.partition() or 0)
                continue
            records.append(message)
    finally:
        consumer.close()
    assert len(done) == partitions, f"did not reach the end of {topic}"
    return records


def _kafka_headers(
    headers: Sequence[tuple[str, bytes]] | None,
) -> list[tuple[str, str | bytes | None]] | None:
    return None if headers is None else [(name, value) for name, value in headers]
