"""Contiguous commit tracking per partition: never commit past an unfinished earlier offset."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

PartitionKey = tuple[str, int]


@dataclass
class PartitionOffsets:
    """Offsets of one partition handed to the worker, in fetch order, and which have finished.

    The commit position is one past the longest finished prefix: records finish out of order
    (jobs run concurrently), but the committed position only moves over finished ones.
    """

    _pending: deque[int] = field(default_factory=deque)
    _finished: set[int] = field(default_factory=set)
    position: int | None = None
    committed: int | None = None

    def track(self, offset: int) -> None:
        self._pending.append(offset)

    def finish(self, offset: int) -> None:
        self.finish_all((offset,))

    def finish_all(self, offsets: Iterable[int]) -> None:
        """Mark several offsets finished (a unit's), then move the position once."""
        self._finished.update(offsets)
        pending, finished = self._pending, self._finished
        while pending and pending[0] in finished:
            head = pending.popleft()
            finished.discard(head)
            self.position = head + 1

    @property
    def unfinished(self) -> int:
        return len(self._pending)


class OffsetTracker:
    """Every assigned partition's `PartitionOffsets`; tells what may be committed now."""

    def __init__(self) -> None:
        self._partitions: dict[PartitionKey, PartitionOffsets] = {}

    def track(self, topic: str, partition: int, offset: int) -> None:
        offsets = self._partitions.get((topic, partition))
        if offsets is None:  # not `setdefault`: that built a PartitionOffsets per record
            offsets = self._partitions[(topic, partition)] = PartitionOffsets()
        offsets.track(offset)

    def finish(self, topic: str, partition: int, offset: int) -> bool:
        """Mark a record finished; False if its partition is no longer ours (revoked or lost
        meanwhile): then it must not be committed or announced here, the next owner will."""
        offsets = self._partitions.get((topic, partition))
        if offsets is None:
            return False
        offsets.finish(offset)
        return True

    def of(self, topic: str, partition: int) -> PartitionOffsets | None:
        """The partition's offsets, or None if it is no longer ours (revoked or lost)."""
        return self._partitions.get((topic, partition))

    def committable(self, only: Iterable[PartitionKey] | None = None) -> dict[PartitionKey, int]:
        """Positions that moved since the last confirmed commit."""
        keys = self._partitions.keys() if only is None else only
        result: dict[PartitionKey, int] = {}
        for key in keys:
            offsets = self._partitions.get(key)
            if offsets is None or offsets.position is None:
                continue
            if offsets.committed is None or offsets.position > offsets.committed:
                result[key] = offsets.position
        return result

    def confirm(self, positions: dict[PartitionKey, int]) -> None:
        """Record positions the broker acknowledged."""
        for key, position in positions.items():
            offsets = self._partitions.get(key)
            if offsets is not None:
                offsets.committed = max(position, offsets.committed or 0)

    def unfinished(self, key: PartitionKey) -> int:
        offsets = self._partitions.get(key)
        return 0 if offsets is None else offsets.unfinished

    def forget(self, keys: Iterable[PartitionKey]) -> None:
        for key in keys:
            self._partitions.pop(key, None)
