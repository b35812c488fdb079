"""`python -m bench.peers.raw_transactional BOOTSTRAP GROUP TOPIC RESULT_TOPIC COUNT`: the raw
confluent-kafka loop with the worker's semantics, the same-semantics baseline of the consume
scenario: `read_committed`, one result record per input (its key, a small JSON value), and per
batch one transaction holding the result records and the consumed offsets
(`send_offsets_to_transaction`). Exits after COUNT records and writes its tally."""

from __future__ import annotations

import signal
import sys
import threading
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from bench.peers.tally import Tally
from dpp_shared.kafka_config import consumer_config, producer_config
from dpp_shared.settings import AwsSettings, KafkaSettings

BATCH = 500
TIMEOUT_S = 30.0


def main() -> None:
    bootstrap, group, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    result_topic, count = sys.argv[4], int(sys.argv[5])
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    consumer = Consumer(
        consumer_config(kafka, AwsSettings(), group)
        | {"isolation.level": "read_committed", "enable.auto.commit": False}
    )
    producer = Producer(
        producer_config(kafka, AwsSettings(), role="bench")
        | {"transactional.id": f"bench-raw-{uuid.uuid4().hex}"}
    )
    producer.init_transactions(TIMEOUT_S)
    consumer.subscribe([topic])
    tally = Tally()
    # The scenario stops a peer once its commits reach the total, maybe before the loop
    # noticed, maybe while it closes: end the loop, never interrupt the tally's writing.
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    try:
        while tally.processed < count and not stopping.is_set():
            messages = [m for m in consumer.consume(BATCH, 0.05) if m.error() is None]
            if not messages:
                continue
            positions: dict[tuple[str, int], int] = {}
            producer.begin_transaction()
            for message in messages:
                producer.produce(result_topic, key=message.key(), value=b'{"status":"done"}')
                name, partition, offset = message.topic(), message.partition(), message.offset()
                assert name is not None and partition is not None and offset is not None
                positions[(name, partition)] = offset + 1
            producer.send_offsets_to_transaction(
                [TopicPartition(t, p, o) for (t, p), o in positions.items()],
                consumer.consumer_group_metadata(),
                TIMEOUT_S,
            )
            producer.commit_transaction(TIMEOUT_S)
            tally.add(len(messages))
    finally:
        tally.write()
        consumer.close()


if __name__ == "__main__":
    main()
