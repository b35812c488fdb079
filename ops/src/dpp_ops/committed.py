"""A consumer group's committed offsets, fetched without `list_consumer_group_offsets`.

On a broker whose group coordinator is loading or moving (a fresh cluster, a rolling restart),
`AdminClient.list_consumer_group_offsets` crashes the calling process with SIGSEGV in
confluent-kafka 2.16.1 / librdkafka 2.16.0 (a loop over it died in two of three fresh brokers
here). An OffsetFetch sent by a consumer of the group that never subscribes answers the same
question, and such a consumer never joins or disturbs the group it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, TopicPartition

PartitionKey = tuple[str, int]


def offset_fetch_consumer(config: Mapping[str, Any], group: str) -> Consumer:
    """A consumer that only fetches `group`'s offsets: it never subscribes nor commits.

    `read_uncommitted` because librdkafka asks for *stable* offsets under read_committed: the
    coordinator then refuses (UNSTABLE_OFFSET_COMMIT, retried until the timeout) while the
    group has a transaction open, and a transactional worker nearly always has one. The
    committed offsets returned are the same; offsets of open transactions are never shown."""
    return Consumer(
        {
            **config,
            "group.id": group,
            "enable.auto.commit": False,
            "isolation.level": "read_uncommitted",
        }
    )


def committed_offsets(
    consumer: Consumer, partitions: Iterable[PartitionKey], timeout_s: float
) -> dict[PartitionKey, int]:
    """The committed offset of each partition that has one (others are left out).

    Raises `KafkaException` for an error on any partition, as the coordinator answers it
    (for example COORDINATOR_LOAD_IN_PROGRESS, which callers retry)."""
    wanted = [TopicPartition(topic, partition) for topic, partition in sorted(partitions)]
    if not wanted:
        return {}
    found: dict[PartitionKey, int] = {}
    for tp in consumer.committed(wanted, timeout=timeout_s):
        if tp.error is not None:
            raise KafkaException(tp.error)
        if tp.offset >= 0 and tp.offset != OFFSET_INVALID:
            found[(tp.topic, tp.partition)] = tp.offset
    return found
