"""Offset resets of a consumer group (`dpp replay`): plan per partition, refuse if live, apply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from dpp_ops.committed import committed_offsets, offset_fetch_consumer
from dpp_ops.errors import OpsError

# Group states in which nobody holds the partitions: Kafka's ConsumerGroupCommand resets
# offsets only then ("Assignments can only be reset if the group is inactive").
INACTIVE_STATES = frozenset({"EMPTY", "DEAD"})


class ReplayError(OpsError):
    """The reset cannot be planned or applied (unknown topic, broker error)."""


class GroupActiveError(ReplayError):
    """The group has live members: they would overwrite any reset with their next commit."""

    def __init__(self, group: str, state: str, members: int) -> None:
        super().__init__(
            f"group {group!r} is {state.lower()} with {members} live member(s): offsets can only "
            "be reset while it is inactive (stop its workers first, e.g. Ctrl-C `dpp up` or "
            "DPP_AUTOSCALE_MIN_WORKERS=0). --force does not override this: the broker refuses "
            "commits from outside a live group, and its members would commit their own "
            "positions over the reset anyway."
        )
        self.group = group
        self.state = state
        self.members = members


@dataclass(frozen=True, slots=True)
class Target:
    """Where to move the group: exactly one of the three is set."""

    to_datetime: datetime | None = None
    to_offset: int | None = None
    shift_by: int | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.to_datetime, self.to_offset, self.shift_by) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of to_datetime, to_offset, shift_by")
        if self.to_datetime is not None and self.to_datetime.tzinfo is None:
            raise ValueError("to_datetime must carry a time zone (e.g. 2026-11-26T08:00:00Z)")

    def describe(self) -> str:
        if self.to_datetime is not None:
            return f"to {self.to_datetime.isoformat()}"
        if self.to_offset is not None:
            return f"to offset {self.to_offset}"
        return f"shift by {self.shift_by:+d}"


@dataclass(frozen=True, slots=True)
class PartitionReset:
    """One partition's move: from the committed offset (None: never committed) to ``new``."""

    topic: str
    partition: int
    current: int | None
    new: int
    log_start: int
    log_end: int
    clamped: bool
    """The asked offset lay outside [log start, log end] and was moved to the nearest end."""

    @property
    def again(self) -> int:
        """Records the group will be delivered a second time (it moves back)."""
        return 0 if self.current is None else max(0, self.current - self.new)

    @property
    def skipped(self) -> int:
        """Records the group will never be delivered (it moves forward past them)."""
        start = self.log_start if self.current is None else self.current
        return max(0, self.new - start)

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "current": self.current,
            "new": self.new,
            "again": self.again,
            "skipped": self.skipped,
            "log_start": self.log_start,
            "log_end": self.log_end,
            "clamped": self.clamped,
        }


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """A whole reset: the group's state when planned and every partition's move."""

    group: str
    topic: str
    target: Target
    state: str
    members: int
    partitions: tuple[PartitionReset, ...]

    @property
    def active(self) -> bool:
        return self.members > 0 or self.state.upper() not in INACTIVE_STATES

    @property
    def again(self) -> int:
        return sum(p.again for p in self.partitions)

    @property
    def skipped(self) -> int:
        return sum(p.skipped for p in self.partitions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "topic": self.topic,
            "target": self.target.describe(),
            "state": self.state,
            "members": self.members,
            "again": self.again,
            "skipped": self.skipped,
            "partitions": [p.as_dict() for p in self.partitions],
        }


class OffsetResetter:
    """Plans and applies a group's offset reset with one AdminClient (it never joins the group)."""

    def __init__(self, client_config: Mapping[str, Any], timeout_s: float = 15.0) -> None:
        self._config = dict(client_config)
        self._admin = AdminClient(self._config)
        self._timeout_s = timeout_s

    def plan(self, group: str, topic: str, target: Target) -> ReplayPlan:
        """Where each partition of ``topic`` would move; nothing is changed."""
        try:
            state, members = self._describe(group)
            partitions = self._partitions(topic)
            committed = self._committed(group, topic, partitions)
            starts = self._list(topic, partitions, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
            ends = self._list(topic, partitions, OffsetSpec.latest())  # type: ignore[no-untyped-call]
            asked = self._asked(topic, partitions, target, committed)
        except KafkaException as exc:
            raise ReplayError(str(exc.args[0] if exc.args else exc)) from exc
        moves = []
        for p in partitions:
            if target.shift_by is not None and p not in committed:
                continue  # nothing to shift from: the partition stays as it is
            wanted = ends[p] if asked.get(p) is None else asked[p]
            assert wanted is not None
            new = min(max(wanted, starts[p]), ends[p])
            moves.append(
                PartitionReset(topic, p, committed.get(p), new, starts[p], ends[p], new != wanted)
            )
        return ReplayPlan(group, topic, target, state, members, tuple(moves))

    def apply(self, plan: ReplayPlan) -> ReplayPlan:
        """Commit the plan's offsets for the group after checking again that it is inactive;
        returns the plan as re-read (so the caller shows what the broker now holds)."""
        state, members = self._describe(plan.group)
        if members > 0 or state.upper() not in INACTIVE_STATES:
            raise GroupActiveError(plan.group, state, members)
        offsets = [TopicPartition(p.topic, p.partition, p.new) for p in plan.partitions]
        request = [ConsumerGroupTopicPartitions(plan.group, offsets)]
        try:
            result = self._admin.alter_consumer_group_offsets(
                request, request_timeout=self._timeout_s
            )[plan.group].result()
        except KafkaException as exc:
            error = exc.args[0] if exc.args else exc
            if isinstance(error, KafkaError) and error.code() in (
                KafkaError.UNKNOWN_MEMBER_ID,
                KafkaError.REBALANCE_IN_PROGRESS,
            ):
                # A member joined between the check and the commit: the broker refused.
                raise GroupActiveError(plan.group, "active", 1) from exc
            raise ReplayError(str(error)) from exc
        for tp in result.topic_partitions or []:
            if tp.error is not None:
                raise ReplayError(f"{tp.topic}[{tp.partition}]: {tp.error}")
        return plan

    # -- broker reads ------------------------------------------------------------------------

    def _describe(self, group: str) -> tuple[str, int]:
        future = self._admin.describe_consumer_groups([group], request_timeout=self._timeout_s)
        try:
            desc = future[group].result()
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
                return "DEAD", 0
            raise
        state = getattr(desc.state, "name", str(desc.state))
        return str(state), len(desc.members)

    def _partitions(self, topic: str) -> list[int]:
        # Whole-cluster metadata: asking for one topic by name may auto-create it.
        meta = self._admin.list_topics(timeout=self._timeout_s).topics.get(topic)
        if meta is None:
            raise ReplayError(f"topic {topic!r} does not exist")
        if meta.error is not None:
            raise ReplayError(f"topic {topic!r}: {meta.error}")
        return sorted(meta.partitions)

    def _committed(self, group: str, topic: str, partitions: list[int]) -> dict[int, int]:
        consumer = offset_fetch_consumer(self._config, group)
        try:
            found = committed_offsets(consumer, [(topic, p) for p in partitions], self._timeout_s)
        finally:
            consumer.close()
        return {partition: offset for (_topic, partition), offset in found.items()}

    def _list(self, topic: str, partitions: list[int], spec: OffsetSpec) -> dict[int, int]:
        futures = self._admin.list_offsets(
            {TopicPartition(topic, p): spec for p in partitions},
            isolation_level=IsolationLevel.READ_UNCOMMITTED,
            request_timeout=self._timeout_s,
        )
        return {tp.partition: int(f.result().offset) for tp, f in futures.items()}

    def _asked(
        self,
        topic: str,
        partitions: list[int],
        target: Target,
        committed: dict[int, int],
    ) -> dict[int, int | None]:
        """The offset asked for each partition before clamping; None means the log end."""
        if target.to_offset is not None:
            return dict.fromkeys(partitions, target.to_offset)
        if target.shift_by is not None:
            # Like kafka-consumer-groups, only committed positions shift (the others are left
            # out of the plan by the caller).
            return {p: committed[p] + target.shift_by for p in partitions if p in committed}
        assert target.to_datetime is not None
        stamp_ms = int(target.to_datetime.timestamp() * 1000)
        found = self._list(topic, partitions, OffsetSpec.for_timestamp(stamp_ms))
        # No record at or after the time: the log end (nothing to deliver again).
        return {p: (None if found[p] < 0 else found[p]) for p in partitions}
