"""The replay ledger: a compacted topic with one marker per dead letter replayed, shared by all."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from dpp_shared.topics import TopicNamespace, TopicSpec

REPLAYED_TOPIC = "dpp.dead-letter.replayed"
"""Logical name of the ledger; key = dead letter id (``partition:offset`` on the dead-letter
topic), value = a JSON :class:`ReplayMark`. Compaction keeps the newest marker per letter for
as long as the topic exists, so a letter is known as replayed for good."""

LEDGER_SPEC = TopicSpec(REPLAYED_TOPIC, partitions=1, retention_ms=-1, cleanup_policy="compact")
READ_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class ReplayMark:
    """That one dead letter was replayed: when, as which new job, to which topic, by whom."""

    dead_letter: str
    old_job_id: str | None
    new_job_id: str
    topic: str
    replayed_at: float
    by: str

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, raw: bytes) -> ReplayMark | None:
        try:
            return cls(**json.loads(raw))
        except (ValueError, TypeError):
            return None  # written by another version: treat the letter as not replayed


def ensure_topic(admin: AdminClient, spec: TopicSpec, namespace: TopicNamespace) -> str:
    """Create one of the operators' topics if it does not exist (two operators may race: the
    loser's TOPIC_ALREADY_EXISTS is success) and wait until its leader is known."""
    name = namespace.physical(spec.name)
    if name not in admin.list_topics(timeout=READ_TIMEOUT_S).topics:
        new = NewTopic(name, spec.partitions, -1, config=spec.configs())
        try:
            admin.create_topics([new], operation_timeout=READ_TIMEOUT_S)[name].result()
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    deadline = time.monotonic() + READ_TIMEOUT_S
    while True:
        meta = admin.list_topics(timeout=READ_TIMEOUT_S).topics.get(name)
        leaders = [] if meta is None or meta.error else [p.leader for p in meta.partitions.values()]
        if leaders and all(leader >= 0 for leader in leaders):
            return name
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {name} has no leader yet")
        time.sleep(0.1)


def ensure_ledger(admin: AdminClient, namespace: TopicNamespace) -> str:
    """Create the ledger topic (compacted) if it does not exist; its physical name."""
    return ensure_topic(admin, LEDGER_SPEC, namespace)


def read_marks(client_config: Mapping[str, Any], topic: str) -> dict[str, ReplayMark]:
    """Every marker on the ledger, newest per dead letter, committed transactions only."""
    consumer = Consumer(
        {
            **client_config,
            "group.id": "dpp-dlq-ledger",  # required by the client, never joined
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    marks: dict[str, ReplayMark] = {}
    try:
        meta = consumer.list_topics(topic, timeout=READ_TIMEOUT_S).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            return marks
        partitions = list(meta.partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        done: set[int] = set()
        deadline = time.monotonic() + READ_TIMEOUT_S
        while len(done) < len(partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read the replay ledger {topic} to its end")
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    done.add(message.partition() or 0)
                continue
            key = (message.key() or b"").decode()
            value = message.value()
            if value is None:
                marks.pop(key, None)  # a tombstone: an operator un-marked the letter
                continue
            mark = ReplayMark.decode(value)
            if mark is not None:
                marks[key] = mark
    finally:
        consumer.close()
    return marks


def transactional_producer(producer_config: Mapping[str, Any], dead_letter_topic: str) -> Producer:
    """The one producer identity every operator replays through: starting it fences any other
    replay still in flight (its records are aborted), so two operators never both send a letter.
    """
    producer = Producer(
        {
            **producer_config,
            "transactional.id": f"dpp-dlq-replay.{dead_letter_topic}",
            "transaction.timeout.ms": 60_000,
        }
    )
    producer.init_transactions(READ_TIMEOUT_S)
    return producer
