"""Reads lifecycle events back from the results topic, to show a user where job outcomes land."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from dpp_shared.codec import header_map


@dataclass(frozen=True)
class LifecycleEvent:
    """One `job.completed.v1` / `job.failed.v1` record, as read from the results topic."""

    job_id: str
    event_type: str
    partition: int
    offset: int


def read_lifecycle_events(
    client_config: dict[str, Any],
    topic: str,
    job_ids: Collection[str],
    since_ms: int,
    timeout_s: float,
) -> dict[str, LifecycleEvent]:
    """Find the lifecycle event of each job in `job_ids` written at or after `since_ms`.

    Assigns the partitions directly (no group joined, nothing committed) and reads committed
    records only: workers publish outcomes in Kafka transactions.
    """
    consumer = Consumer(
        {
            **client_config,
            "group.id": "dpp-demo-results-reader",  # required by the client, never joined
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "latest",
        }
    )
    found: dict[str, LifecycleEvent] = {}
    try:
        metadata = consumer.list_topics(timeout=10).topics.get(topic)
        if metadata is None:
            return found
        starts = consumer.offsets_for_times(
            [TopicPartition(topic, partition, since_ms) for partition in metadata.partitions],
            timeout=10,
        )
        consumer.assign(starts)
        deadline = time.monotonic() + timeout_s
        while len(found) < len(job_ids) and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            key = (message.key() or b"").decode("utf-8", "replace")
            if key not in job_ids:
                continue
            found[key] = LifecycleEvent(
                job_id=key,
                event_type=header_map(message.headers()).get("ce_type", "?"),
                partition=int(message.partition() or 0),
                offset=int(message.offset() or 0),
            )
    finally:
        consumer.close()
    return found
