"""The newest dead letters for the ops page, read without a consumer group (assign + seek)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from dpp_ops.dead_letters.letter import DeadLetter


class DeadLetterReader:
    """Reads the last records of one topic. It only ``assign()``s and never commits, so it
    creates no consumer group and moves no one's offsets."""

    def __init__(
        self,
        topic: str,
        client_config: Mapping[str, Any],
        timeout_s: float = 5.0,
        *,
        client_group: str = "dpp-ops-dead-letters",
    ) -> None:
        """`client_group` only names the client (never joined), but its coordinator lookup is
        authorized: the lag publisher passes the workers' group, which its role may describe
        under MSK IAM."""
        self.topic = topic
        self._timeout_s = timeout_s
        self._consumer = Consumer(
            {
                **client_config,
                "group.id": client_group,  # required by the client, never joined
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                # Workers publish dead letters transactionally: skip aborted attempts.
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 10,
            }
        )

    def close(self) -> None:
        self._consumer.close()

    def watermarks(self) -> dict[int, tuple[int, int]]:
        """(log start, high watermark) per partition."""
        meta = self._consumer.list_topics(self.topic, timeout=self._timeout_s).topics[self.topic]
        if meta.error is not None:
            return {}
        found = {}
        for partition in sorted(meta.partitions):
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=self._timeout_s
            )
            found[partition] = (int(low), int(high))
        return found

    def arrived(self) -> int:
        """Records ever appended (sum of high watermarks): a counter whose increase is the
        number of new dead letters."""
        return sum(high for _low, high in self.watermarks().values())

    def recent(self, limit: int) -> list[DeadLetter]:
        """Up to ``limit`` newest records (per partition the last ``limit``), newest first."""
        marks = self.watermarks()
        wanted = {
            p: (max(low, high - limit), high) for p, (low, high) in marks.items() if high > low
        }
        if not wanted or limit <= 0:
            return []
        self._consumer.assign(
            [TopicPartition(self.topic, p, start) for p, (start, _) in wanted.items()]
        )
        letters: list[DeadLetter] = []
        done: set[int] = set()
        deadline = time.monotonic() + self._timeout_s
        try:
            while len(done) < len(wanted) and time.monotonic() < deadline:
                message = self._consumer.poll(0.2)
                if message is None:
                    continue
                partition = message.partition()
                if partition is None or partition not in wanted or partition in done:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        done.add(partition)
                    continue
                offset = message.offset() or 0
                if offset >= wanted[partition][1]:
                    done.add(partition)
                    continue
                letters.append(DeadLetter.of(message))
                if offset + 1 >= wanted[partition][1]:
                    done.add(partition)
        finally:
            self._consumer.unassign()
        letters.sort(key=lambda letter: (letter.timestamp or 0.0, letter.offset), reverse=True)
        return letters[:limit]
