"""The Kafka binding through a real broker: headers, key and value survive a produce/consume."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient

from dpp_shared.codec import decode, encode
from dpp_shared.events import REGISTRY
from dpp_shared.kafka_config import consumer_config, producer_config
from dpp_shared.settings import AwsSettings, KafkaSettings
from dpp_shared.topics import TopicNamespace
from tests.fixtures.kafka import delete_groups
from tests.shared.factories import TRACEPARENT, make_event


def test_round_trip_through_the_broker(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    topic_namespace: TopicNamespace,
    unique_name: str,
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    aws = AwsSettings()
    events = [
        make_event(name, correlationid="c-1", idempotencykey=f"k-{name}", traceparent=TRACEPARENT)
        for name in ("persona.embedding.requested.v1", "job.completed.v1")
    ]
    records = [
        encode(env, payload, REGISTRY.get(env.type), topic_namespace) for env, payload in events
    ]

    producer = Producer(producer_config(kafka, aws))
    for record in records:
        producer.produce(record.topic, record.value, record.key, headers=record.kafka_headers())
    assert producer.flush(30) == 0

    consumer = Consumer(consumer_config(kafka, aws, unique_name))
    received: dict[str, Message] = {}
    try:
        consumer.subscribe(sorted({record.topic for record in records}))
        deadline = time.monotonic() + 60
        while len(received) < len(records) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            received[str(message.topic())] = message
    finally:
        consumer.close()
        delete_groups(kafka_admin, [unique_name])

    assert len(received) == len(records)
    for (envelope, payload), record in zip(events, records, strict=True):
        message = received[record.topic]
        assert message.key() == record.key
        decoded = decode(message.value(), message.headers(), REGISTRY)
        assert decoded.envelope == envelope
        assert decoded.payload == payload
        assert decoded.envelope.traceparent == TRACEPARENT
