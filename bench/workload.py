"""The measured events: demo.echo requests whose Kafka record value is 1 KB, spread over keys."""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import Producer

from dpp_shared.codec import KafkaRecord, encode
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY
from dpp_shared.topics import TopicNamespace

ECHO_TYPE = "demo.echo.requested.v1"
EVENT_BYTES = 1024
SESSIONS = 64
# {"session_id":"s-00","message":"..."} is 34 bytes around the message.
_MESSAGE = "m" * (EVENT_BYTES - 34)


def event_document(index: int) -> dict[str, Any]:
    """The CloudEvents JSON a client posts (the API fills id, time and source)."""
    return {
        "type": ECHO_TYPE,
        "source": "urn:dpp:bench",
        "data": {"session_id": f"s-{index % SESSIONS:02d}", "message": _MESSAGE},
    }


def batch_body(size: int) -> bytes:
    return json.dumps({"events": [event_document(i) for i in range(size)]}).encode()


def single_body() -> bytes:
    return json.dumps(event_document(0)).encode()


def echo_records(namespace: TopicNamespace, count: int) -> list[KafkaRecord]:
    """`count` encoded records as the producer API would write them (1 KB values)."""
    event_type = REGISTRY.get(ECHO_TYPE)
    records = []
    for index in range(count):
        document = event_document(index)
        payload = event_type.payload.model_validate(document["data"])
        envelope = EventEnvelope(source=document["source"], type=ECHO_TYPE, data=document["data"])
        records.append(encode(envelope, payload, event_type, namespace))
    return records


def fill_topic(config: dict[str, Any], records: list[KafkaRecord]) -> None:
    """Produce `records` as fast as possible and wait for every acknowledgement."""
    producer = Producer(config)
    failures: list[str] = []

    def on_delivery(error: Any, _message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    for record in records:
        while True:
            try:
                producer.produce(
                    record.topic,
                    value=record.value,
                    key=record.key,
                    headers=record.kafka_headers(),
                    on_delivery=on_delivery,
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(60)
    if left or failures:
        raise RuntimeError(f"filling the topic failed: {left} unflushed, errors {failures[:3]}")
