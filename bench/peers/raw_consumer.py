"""`python -m bench.peers.raw_consumer BOOTSTRAP GROUP TOPIC COUNT`: the raw confluent-kafka
baseline with the worker's commit semantics: consume in batches, process (count the record),
store each offset after processing, commit every 250 ms; exits after COUNT records and writes
its tally ($BENCH_COUNT_TO)."""

from __future__ import annotations

import signal
import sys
import threading
import time

from confluent_kafka import Consumer

from bench.peers.tally import Tally
from dpp_shared.kafka_config import consumer_config
from dpp_shared.settings import AwsSettings, KafkaSettings

BATCH = 500
COMMIT_INTERVAL_S = 0.25


def main() -> None:
    bootstrap, group, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    consumer = Consumer(
        consumer_config(KafkaSettings(bootstrap_servers=bootstrap), AwsSettings(), group)
    )
    consumer.subscribe([topic])
    tally = Tally()
    # The scenario stops a peer once its commits reach the total, maybe before the loop
    # noticed, maybe while it closes: end the loop, never interrupt the tally's writing.
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    next_commit = time.monotonic() + COMMIT_INTERVAL_S
    try:
        while tally.processed < count and not stopping.is_set():
            for message in consumer.consume(BATCH, 0.05):
                if message.error() is not None:
                    continue
                tally.add()
                consumer.store_offsets(message=message)
            if time.monotonic() >= next_commit:
                consumer.commit(asynchronous=True)
                next_commit = time.monotonic() + COMMIT_INTERVAL_S
        consumer.commit(asynchronous=False)
    finally:
        tally.write()
        consumer.close()


if __name__ == "__main__":
    main()
