"""Factories for producer tests: events, tokens, settings, and reading produced records back."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from dpp_producer.auth import mint_token
from dpp_producer.event_ids import EventIds, derive_key
from dpp_producer.settings import SANDBOX_JWT_SECRET, ProducerSettings

TEST_SECRET = SANDBOX_JWT_SECRET
DEMO_TYPE = "demo.echo.requested.v1"
EMBEDDING_TYPE = "persona.embedding.requested.v1"


def demo_event(
    session_id: str = "session-1", message: str = "hello", **fields: Any
) -> dict[str, Any]:
    return {
        "type": DEMO_TYPE,
        "source": "urn:test",
        "data": {"session_id": session_id, "message": message},
        **fields,
    }


def embedding_event(persona_id: str = "persona-1") -> dict[str, Any]:
    return {
        "type": EMBEDDING_TYPE,
        "source": "urn:test",
        "data": {"persona_id": persona_id, "texts": ["hi"]},
    }


def token(scope: str = "events:*", subject: str = "tester", ttl_s: int = 600) -> str:
    return mint_token(TEST_SECRET, subject=subject, scope=scope, ttl_s=ttl_s)


def auth(scope: str = "events:*", subject: str = "tester") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(scope, subject)}"}


def event_ids() -> EventIds:
    """The test apps' event ids (keyed from the sandbox HS256 secret, as the apps are)."""
    return EventIds(derive_key(TEST_SECRET))


def scoped_id(client_id: str, subject: str = "tester") -> str:
    """The event (= job) id the API gives an event whose client chose `client_id`."""
    return event_ids().scoped(subject, client_id)


def settings(database_url: str, **overrides: Any) -> ProducerSettings:
    values: dict[str, Any] = {"DPP_ENV": "test", "DATABASE_URL": database_url, **overrides}
    return ProducerSettings.model_validate(values)


@dataclass(frozen=True)
class StoredRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


def header_bytes(headers: Any) -> dict[str, bytes]:
    """A record's headers by name (the last value wins), skipping null values."""
    return {name: value for name, value in (headers or []) if isinstance(value, bytes)}


def read_record(
    bootstrap: str, topic: str, partition: int, offset: int, timeout_s: float = 30.0
) -> StoredRecord:
    """Read the record at exactly (topic, partition, offset) from the broker."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            key, value = message.key(), message.value()
            return StoredRecord(
                str(message.topic()),
                int(message.partition() or 0),
                int(message.offset() or 0),
                key if isinstance(key, bytes) else None,
                value if isinstance(value, bytes) else None,
                header_bytes(message.headers()),
            )
        raise AssertionError(f"no record at {topic}[{partition}]@{offset} within {timeout_s}s")
    finally:
        consumer.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """High watermark of every partition of `topic`: how many records were ever written."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"t-wm-{uuid.uuid4().hex[:8]}"}
    )
    deadline = time.monotonic() + 30.0
    try:
        while True:
            try:
                metadata = consumer.list_topics(topic, timeout=10)
                partitions = metadata.topics[topic].partitions
                return {
                    p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                    for p in partitions
                }
            except KafkaException:
                # A topic created moments ago may not have elected its leaders yet.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()
