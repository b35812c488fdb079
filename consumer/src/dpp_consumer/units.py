"""What the poll loop hands the job threads (a unit of records) and what comes back (outcomes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dpp_consumer.context import Cancellation
from dpp_consumer.jobs.registry import JobSpec
from dpp_consumer.records import ConsumedRecord
from dpp_shared.codec import KafkaRecord


@dataclass
class Unit:
    """Records of one partition run together: one record, or a batch of a fast job."""

    topic: str
    partition: int
    records: list[ConsumedRecord]
    spec: JobSpec | None
    ordering_key: bytes | None = None
    cancellation: Cancellation = field(default_factory=Cancellation)


@dataclass(frozen=True)
class Outcome:
    """What became of one record. `finished` records count for the commit once `records`
    (lifecycle, retry or dead-letter records) are delivered; unfinished ones are redelivered."""

    topic: str
    partition: int
    offset: int
    finished: bool
    records: tuple[KafkaRecord, ...] = ()

    @classmethod
    def done(cls, message: ConsumedRecord, *records: KafkaRecord) -> Outcome:
        """The record is dealt with once ``records`` are published with its offset."""
        return cls(message.topic, message.partition, message.offset, True, records)

    @classmethod
    def redeliver(cls, message: ConsumedRecord) -> Outcome:
        """Leave the record uncommitted: it comes back to this group later."""
        return cls(message.topic, message.partition, message.offset, False)


class UnitDeferredError(Exception):
    """A unit run inline on the poll thread met an unavailable job store before it wrote
    anything: hand it to a job thread, which waits the store out without stalling the poll."""
