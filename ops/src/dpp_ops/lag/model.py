"""Value types of the lag engine: one partition's lag and one group's lag."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LagSource(StrEnum):
    """Where a partition's consumer position came from."""

    COMMITTED = "committed"
    """The group's committed offset, inside the log."""
    NO_COMMIT = "no_commit"
    """No committed offset: position derived from the offset reset policy."""
    OUT_OF_RANGE = "out_of_range"
    """Committed offset outside the log (retention deleted it): reset policy applied."""


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """Lag of one consumer group on one topic partition at one instant.

    ``position`` is where the group's next fetch would start (the committed offset, or the
    reset policy's choice when there is none or it fell out of the log). ``lag_messages``
    counts offsets from the first pending record to ``end_offset``; ``lag_seconds`` is the
    age of that record. Both are 0 when nothing is pending.
    """

    group: str
    topic: str
    partition: int
    committed_offset: int | None
    log_start_offset: int
    log_end_offset: int
    end_offset: int
    """End the lag is measured to: last stable offset under read_committed, else the HW."""
    position: int
    source: LagSource
    lag_messages: int
    lag_seconds: float | None
    """None when the pending record's timestamp could not be read (probe timed out)."""
    first_pending_offset: int | None
    """Offset of the first consumable pending record (skips markers/compacted gaps)."""
    first_pending_timestamp: float | None
    """Epoch seconds of that record (CreateTime or LogAppendTime, as the topic says)."""
    owner: str | None
    """client.id/member id of the group member assigned this partition, if any."""
    observed_at: float
    """Epoch seconds when the offsets were read."""

    @property
    def offset_distance(self) -> int:
        """Raw ``end_offset - position``: what naive tools report as lag."""
        return max(0, self.end_offset - self.position)


@dataclass(frozen=True, slots=True)
class GroupLag:
    """Lag of one consumer group over every partition it consumes or was asked about."""

    group: str
    state: str
    """Group state as the coordinator reports it (STABLE, EMPTY, PREPARING_REBALANCING...)."""
    members: int
    partitions: tuple[PartitionLag, ...]
    observed_at: float

    @property
    def rebalancing(self) -> bool:
        """True while the group is between generations and assignments are in flux."""
        state = self.state.upper()
        # Classic protocol: PREPARING_/COMPLETING_REBALANCING; KIP-848: ASSIGNING, RECONCILING.
        return "REBALANC" in state or state in {"ASSIGNING", "RECONCILING"}

    @property
    def total_lag(self) -> int:
        """Sum of ``lag_messages`` over all partitions."""
        return sum(p.lag_messages for p in self.partitions)

    @property
    def max_lag_seconds(self) -> float | None:
        """Age of the oldest pending record over all partitions (None if none is known)."""
        ages = [p.lag_seconds for p in self.partitions if p.lag_seconds is not None]
        return max(ages) if ages else None

    def partition(self, topic: str, partition: int) -> PartitionLag:
        """The entry for one topic partition (KeyError if the group has none)."""
        for entry in self.partitions:
            if entry.topic == topic and entry.partition == partition:
                return entry
        raise KeyError((topic, partition))
