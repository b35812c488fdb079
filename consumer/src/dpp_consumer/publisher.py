"""Publishes outcome records and commits their offsets in one Kafka transaction: a committed
offset and the records of its outcome (lifecycle, retry, dead letter) become visible together,
or neither does and the event is redelivered."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools import Logger
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from dpp_consumer.offsets import PartitionKey
from dpp_consumer.units import Outcome

TRANSACTION_TIMEOUT_S = 30.0


class OutcomePublisher:
    """Holds outcomes until their offsets can be committed, then publishes and commits them
    atomically. Used from the poll thread only.

    Why a transaction: without one, a crash between recording a result in the job store and
    the broker acknowledging its `job.completed.v1` would lose the announcement (the redelivered
    event finds the job finished and is skipped), and announcing again on every redelivery
    would duplicate announcements that did land. With one, an outcome's records are visible
    exactly when its offset is committed, so a redelivered finished job is re-announced only
    when the earlier announcement never became visible.
    """

    def __init__(
        self, producer_config: dict[str, Any], consumer: Consumer, logger: Logger, group: str
    ) -> None:
        self._config = producer_config
        self._consumer = consumer
        self._logger = logger
        self._group = group
        self._pending: dict[PartitionKey, list[Outcome]] = defaultdict(list)
        self._producer = self._new_producer()

    def _new_producer(self) -> Producer:
        # A fresh transactional.id per producer is safe: zombie fencing comes from the consumer
        # group generation sent with the offsets (KIP-447), not from a stable id.
        producer = Producer(
            self._config | {"transactional.id": f"dpp-worker-{self._group}-{uuid.uuid4().hex}"}
        )
        producer.init_transactions(TRANSACTION_TIMEOUT_S)
        return producer

    def add(self, outcome: Outcome) -> None:
        if outcome.records:
            self._pending[(outcome.topic, outcome.partition)].append(outcome)

    def add_all(self, key: PartitionKey, outcomes: list[Outcome]) -> None:
        """`add` for outcomes of one partition (a unit's)."""
        with_records = [outcome for outcome in outcomes if outcome.records]
        if with_records:
            self._pending[key].extend(with_records)

    def drop(self, keys: Iterable[PartitionKey]) -> None:
        """Forget outcomes of partitions no longer ours: their events are redelivered."""
        for key in keys:
            self._pending.pop(key, None)

    def commit(self, positions: dict[PartitionKey, int]) -> bool:
        """Publish the records of every outcome below `positions` and commit the positions,
        in one transaction. False (and nothing visible) if it failed; the caller tries again."""
        if not positions:
            return True
        batches = {
            key: [o for o in self._pending.get(key, ()) if o.offset < position]
            for key, position in positions.items()
        }
        offsets = [TopicPartition(t, p, position) for (t, p), position in positions.items()]
        try:
            self._producer.begin_transaction()
            for outcomes in batches.values():
                for outcome in outcomes:
                    for record in outcome.records:
                        self._produce(record.topic, record.key, record.value, record.headers)
            self._producer.send_offsets_to_transaction(
                offsets, self._consumer.consumer_group_metadata(), TRANSACTION_TIMEOUT_S
            )
            self._producer.commit_transaction(TRANSACTION_TIMEOUT_S)
        except KafkaException as exception:
            self._recover(exception)
            return False
        for key, published in batches.items():
            if published:
                done = {id(outcome) for outcome in published}
                self._pending[key] = [o for o in self._pending[key] if id(o) not in done]
        return True

    def _produce(self, topic: str, key: bytes, value: bytes, headers: list[Any]) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers)
                return
            except BufferError:  # local queue full: let librdkafka send, then try again
                self._producer.poll(0.05)

    def _recover(self, exception: KafkaException) -> None:
        error: KafkaError = exception.args[0]
        self._logger.warning(
            "transaction failed; outcomes kept for the next commit",
            extra={"error": str(error), "fatal": error.fatal()},
        )
        if error.fatal():
            self._replace_producer()
            return
        try:
            self._producer.abort_transaction(TRANSACTION_TIMEOUT_S)
        except KafkaException as abort_failure:
            self._logger.warning("abort failed", extra={"error": str(abort_failure)})
            self._replace_producer()

    def _replace_producer(self) -> None:
        self._producer.flush(0)
        deadline = time.monotonic() + TRANSACTION_TIMEOUT_S
        while True:
            try:
                self._producer = self._new_producer()
                return
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def poll(self) -> None:
        self._producer.poll(0)

    def close(self) -> None:
        self._producer.flush(TRANSACTION_TIMEOUT_S)
