"""Test helpers for lag tests: polling with a deadline and Kafka scratch space that cleans up."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from tests.waiting import wait_until


class KafkaScratch:
    """Topics, groups and clients one test creates; all removed at teardown."""

    def __init__(self, bootstrap: str, stem: str) -> None:
        self.bootstrap = bootstrap
        self.stem = stem
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self._topics: list[str] = []
        self._groups: list[str] = []
        self._consumers: list[Consumer] = []
        self._counter = 0

    def topic(self, partitions: int = 1, config: dict[str, str] | None = None) -> str:
        """Create a topic and wait until its leaders are known."""
        self._counter += 1
        name = f"{self.stem}-{self._counter}"
        new = NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})
        self.admin.create_topics([new])[name].result(timeout=30)
        self._topics.append(name)

        def ready() -> bool:
            meta = self.admin.list_topics(name, timeout=5).topics.get(name)
            return bool(
                meta
                and meta.error is None
                and len(meta.partitions) == partitions
                and all(p.leader >= 0 for p in meta.partitions.values())
            )

        wait_until(ready, what=f"topic {name} ready")
        return name

    def group(self) -> str:
        """A fresh consumer group name, deleted at teardown."""
        self._counter += 1
        name = f"{self.stem}-g{self._counter}"
        self._groups.append(name)
        return name

    def producer(self, **config: Any) -> Producer:
        return Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 0, **config})

    def consumer(self, group: str, **config: Any) -> Consumer:
        """A group consumer that never auto-commits (tests commit what they mean)."""
        settings = {
            "bootstrap.servers": self.bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            **config,
        }
        consumer = Consumer(settings)
        self._consumers.append(consumer)
        return consumer

    def close(self, consumer: Consumer) -> None:
        """Close a consumer now (it leaves its group)."""
        if consumer in self._consumers:
            self._consumers.remove(consumer)
            consumer.close()

    def produce(self, topic: str, count: int, partition: int = 0) -> list[int]:
        """Produce ``count`` records to one partition; returns their offsets."""
        producer = self.producer()
        offsets: list[int] = []

        def delivered(err: Any, msg: Any) -> None:
            assert err is None, err
            offsets.append(msg.offset())

        for i in range(count):
            producer.produce(
                topic, value=f"v{i}".encode(), partition=partition, on_delivery=delivered
            )
            producer.poll(0)
        assert producer.flush(30) == 0
        return sorted(offsets)

    def commit(self, group: str, topic: str, offsets: dict[int, int]) -> None:
        """Commit offsets for ``group`` without joining it (AlterConsumerGroupOffsets)."""
        from confluent_kafka import ConsumerGroupTopicPartitions

        tps = [TopicPartition(topic, p, o) for p, o in offsets.items()]
        futures = self.admin.alter_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, tps)]
        )
        futures[group].result(timeout=30)

    def cleanup(self) -> None:
        for consumer in self._consumers:
            with suppress(Exception):
                consumer.close()
        self._consumers.clear()
        if self._groups:
            futures = self.admin.delete_consumer_groups(self._groups, request_timeout=30)
            for future in futures.values():
                try:
                    future.result(timeout=30)
                except KafkaException as exc:
                    # A group that was never created (no commit, no join) does not exist.
                    if exc.args[0].code() != KafkaError.GROUP_ID_NOT_FOUND:
                        raise
        if self._topics:
            for future in self.admin.delete_topics(self._topics, operation_timeout=30).values():
                try:
                    future.result(timeout=60)
                except KafkaException as exc:
                    # The test may already have deleted it; anything else is a real failure.
                    if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                        raise
