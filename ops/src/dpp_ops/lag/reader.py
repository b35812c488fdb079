"""Reads a consumer group's lag from the broker: offsets, group state and pending-record age."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from dpp_ops.committed import committed_offsets, offset_fetch_consumer
from dpp_ops.errors import LagReadError
from dpp_ops.lag.model import GroupLag, LagSource, PartitionLag

OffsetReset = Literal["earliest", "latest"]
Isolation = Literal["read_committed", "read_uncommitted"]
_Key = tuple[str, int]
_GONE = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._NOENT})
READ_ATTEMPTS = 3
# Answers that go away once librdkafka has fresh metadata or the coordinator has loaded.
_TRANSIENT = frozenset({
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
})  # fmt: skip
RETRY_BACKOFF_S = 0.2


@dataclass(frozen=True, slots=True)
class _Pending:
    """What the probe found at a partition's position."""

    offset: int | None
    """First consumable record before the end snapshot; None when there is none."""
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class _Offsets:
    log_start: int
    high_watermark: int
    end: int


class LagReader:
    """Reads :class:`GroupLag` for consumer groups with an AdminClient and a probe Consumer.

    Offsets come from the group coordinator (committed), ``ListOffsets`` (log start, high
    watermark and, under read_committed, the last stable offset) and the group description
    (state, members, assignment). The age of the first pending record is read by a probe
    consumer that assigns the partition at the group's position and fetches one record: it
    never joins the group and never commits, so it cannot disturb the group it measures.

    ``offset_reset`` must match the consumers' ``auto.offset.reset``: it decides where a group
    with no committed offset, or with one that retention deleted, would start reading.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_config: Mapping[str, Any] | None = None,
        offset_reset: OffsetReset = "earliest",
        isolation_level: Isolation = "read_committed",
        probe: bool = True,
        probe_timeout_s: float = 5.0,
        request_timeout_s: float = 15.0,
        probe_group: str = "dpp-lag-probe",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base: dict[str, Any] = {"bootstrap.servers": bootstrap_servers}
        self._base.update(client_config or {})
        self._offset_reset = offset_reset
        self._isolation = isolation_level
        self._probe_enabled = probe
        self._probe_timeout_s = probe_timeout_s
        self._timeout_s = request_timeout_s
        self._clock = clock
        self._probe_group = probe_group
        self._admin = AdminClient(self._base)
        self._consumer: Consumer | None = None
        self._group_consumers: dict[str, Consumer] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the probe and offset-fetch consumers (the AdminClient holds no group state)."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        for consumer in self._group_consumers.values():
            consumer.close()
        self._group_consumers.clear()

    def read_group(self, group: str, topics: Iterable[str] = ()) -> GroupLag:
        """Lag of ``group`` on every partition it committed, is assigned, or is in ``topics``.

        Pass ``topics`` to see partitions the group has never committed (a new group, or a
        partition added later); without it only committed or assigned partitions appear.
        """
        wanted = list(topics)
        for attempt in range(READ_ATTEMPTS):
            try:
                state, members, owners = self._describe(group)
                # Whole-cluster metadata, never list_topics(topic): asking for one topic by
                # name auto-creates it on brokers with auto.create.topics.enable (the default).
                cluster = self._admin.list_topics(timeout=self._timeout_s).topics
                asked = _partitions_of(wanted, cluster)
                committed = self._committed(group, _all_partitions(cluster) | set(owners) | asked)
                offsets = self._offsets(set(committed) | set(owners) | asked)
                break
            except KafkaException as exc:
                error = exc.args[0] if exc.args else exc
                # Leadership moves and fresh topics answer NOT_LEADER/LEADER_NOT_AVAILABLE
                # for a moment: librdkafka refreshes its metadata, so asking again succeeds.
                retriable = isinstance(error, KafkaError) and (
                    error.retriable() or error.code() in _TRANSIENT
                )
                if not retriable or attempt == READ_ATTEMPTS - 1:
                    raise LagReadError(group, str(error)) from exc
                time.sleep(RETRY_BACKOFF_S * (attempt + 1))
        keys = set(offsets)
        observed_at = self._clock()

        positions: dict[_Key, tuple[int, LagSource]] = {}
        for key in keys:
            positions[key] = self._position(committed.get(key), offsets[key])
        lagging = {
            key: (pos, offsets[key].end)
            for key, (pos, _) in positions.items()
            if offsets[key].end > pos
        }
        pending = self._probe(lagging) if self._probe_enabled and lagging else {}

        entries = []
        for key in sorted(keys):
            off = offsets[key]
            position, source = positions[key]
            entries.append(
                _partition_lag(
                    group=group,
                    key=key,
                    committed=committed.get(key),
                    offsets=off,
                    position=position,
                    source=source,
                    pending=pending.get(key),
                    owner=owners.get(key),
                    observed_at=observed_at,
                )
            )
        return GroupLag(
            group=group,
            state=state,
            members=members,
            partitions=tuple(entries),
            observed_at=observed_at,
        )

    def list_groups(self) -> list[str]:
        """Every consumer group the cluster knows (any state, simple groups included), sorted."""
        try:
            listed = self._admin.list_consumer_groups(request_timeout=self._timeout_s).result()
        except KafkaException as exc:
            raise LagReadError("*", str(exc.args[0] if exc.args else exc)) from exc
        return sorted({listing.group_id for listing in listed.valid})

    # -- broker reads -----------------------------------------------------------------

    def _describe(self, group: str) -> tuple[str, int, dict[_Key, str]]:
        future = self._admin.describe_consumer_groups([group], request_timeout=self._timeout_s)[
            group
        ]
        try:
            desc = future.result()
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
                return "DEAD", 0, {}
            raise
        owners: dict[_Key, str] = {}
        for member in desc.members:
            assignment = member.assignment.topic_partitions if member.assignment else []
            for tp in assignment:
                owners[(tp.topic, tp.partition)] = member.client_id or member.member_id
        state = getattr(desc.state, "name", str(desc.state))
        return state, len(desc.members), owners

    def _committed(self, group: str, candidates: set[_Key]) -> dict[_Key, int]:
        consumer = self._group_consumers.get(group)
        if consumer is None:
            consumer = self._group_consumers[group] = offset_fetch_consumer(self._base, group)
        return committed_offsets(consumer, candidates, self._timeout_s)

    def _offsets(self, keys: set[_Key]) -> dict[_Key, _Offsets]:
        if not keys:
            return {}

        def request(
            spec: Callable[[], OffsetSpec], level: IsolationLevel
        ) -> dict[Any, Future[Any]]:
            specs = {TopicPartition(t, p): spec() for t, p in keys}
            result: dict[Any, Future[Any]] = self._admin.list_offsets(
                specs, isolation_level=level, request_timeout=self._timeout_s
            )
            return result

        starts = request(OffsetSpec.earliest, IsolationLevel.READ_UNCOMMITTED)
        highs = request(OffsetSpec.latest, IsolationLevel.READ_UNCOMMITTED)
        stables = (
            request(OffsetSpec.latest, IsolationLevel.READ_COMMITTED)
            if self._isolation == "read_committed"
            else highs
        )

        def by_key(futures: dict[Any, Future[Any]]) -> dict[_Key, int]:
            found: dict[_Key, int] = {}
            for tp, future in futures.items():
                try:
                    found[(tp.topic, tp.partition)] = int(future.result().offset)
                except KafkaException as exc:
                    # A group keeps offsets of topics deleted since: nothing left to lag on.
                    # (librdkafka says _NOENT when no partition of the request has a leader.)
                    if exc.args and exc.args[0].code() in _GONE:
                        continue
                    raise
            return found

        start, high, stable = by_key(starts), by_key(highs), by_key(stables)
        alive = start.keys() & high.keys() & stable.keys()
        return {k: _Offsets(start[k], high[k], min(stable[k], high[k])) for k in alive}

    def _position(self, committed: int | None, offsets: _Offsets) -> tuple[int, LagSource]:
        reset_to = offsets.log_start if self._offset_reset == "earliest" else offsets.end
        if committed is None:
            return reset_to, LagSource.NO_COMMIT
        if committed < offsets.log_start or committed > offsets.high_watermark:
            return reset_to, LagSource.OUT_OF_RANGE
        return committed, LagSource.COMMITTED

    def _probe(self, lagging: dict[_Key, tuple[int, int]]) -> dict[_Key, _Pending]:
        """First consumable record at or after each position and before each end snapshot.

        Control records (transaction markers), aborted records under read_committed and
        offsets removed by compaction are never returned by a fetch, so the first record
        the probe sees is the first one the group's consumer would actually process.
        """
        consumer = self._probe_consumer()
        consumer.assign([TopicPartition(t, p, pos) for (t, p), (pos, _) in lagging.items()])
        found: dict[_Key, _Pending] = {}
        deadline = time.monotonic() + self._probe_timeout_s
        try:
            while len(found) < len(lagging):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                msg = consumer.poll(min(remaining, 0.5))
                if msg is None:
                    continue
                key = (msg.topic(), msg.partition())
                if key not in lagging or key in found:
                    continue
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        found[key] = _Pending(None, None)
                    continue
                offset = msg.offset()
                start, end = lagging[key]
                if offset is not None and offset < start:
                    continue  # left over from an earlier assignment of this partition
                if offset is None or offset >= end:
                    found[key] = _Pending(None, None)
                    continue
                ts_type, ts_ms = msg.timestamp()
                stamp = None if ts_type == TIMESTAMP_NOT_AVAILABLE else ts_ms / 1000.0
                found[key] = _Pending(offset, stamp)
        finally:
            consumer.unassign()
        return found

    def _probe_consumer(self) -> Consumer:
        if self._consumer is None:
            config = dict(self._base)
            config.update(
                {
                    # A group id is required by the client but never used: the probe only
                    # assign()s and never commits, so no group is created on the broker. Its
                    # coordinator lookup is still authorized (DescribeGroup under MSK IAM), so
                    # deployed readers name it after the group their role may describe.
                    "group.id": self._probe_group,
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "enable.partition.eof": True,
                    "isolation.level": self._isolation,
                    "auto.offset.reset": "earliest",
                    "fetch.wait.max.ms": 10,
                    "max.partition.fetch.bytes": 65536,
                    "queued.max.messages.kbytes": 1024,
                }
            )
            self._consumer = Consumer(config)
        return self._consumer


def _partition_lag(
    *,
    group: str,
    key: _Key,
    committed: int | None,
    offsets: _Offsets,
    position: int,
    source: LagSource,
    pending: _Pending | None,
    owner: str | None,
    observed_at: float,
) -> PartitionLag:
    distance = max(0, offsets.end - position)
    first_offset: int | None = None
    first_ts: float | None = None
    if distance == 0:
        lag, age = 0, 0.0
    elif pending is None:
        # Probe disabled or timed out: fall back to the raw distance, age unknown.
        lag, age = distance, None
    elif pending.offset is None:
        # Only markers, aborted or compacted-away offsets remain: nothing to process.
        lag, age = 0, 0.0
    else:
        first_offset, first_ts = pending.offset, pending.timestamp
        lag = offsets.end - pending.offset
        age = None if first_ts is None else max(0.0, observed_at - first_ts)
    return PartitionLag(
        group=group,
        topic=key[0],
        partition=key[1],
        committed_offset=committed,
        log_start_offset=offsets.log_start,
        log_end_offset=offsets.high_watermark,
        end_offset=offsets.end,
        position=position,
        source=source,
        lag_messages=lag,
        lag_seconds=age,
        first_pending_offset=first_offset,
        first_pending_timestamp=first_ts,
        owner=owner,
        observed_at=observed_at,
    )


def _all_partitions(cluster: Mapping[str, Any]) -> set[_Key]:
    """Every partition of every topic but Kafka's internal ones: where a group may have
    committed (the offsets API that would list them is the one that crashes)."""
    return {
        (topic, partition)
        for topic, meta in cluster.items()
        if not topic.startswith("__") and meta.error is None
        for partition in meta.partitions
    }


def _partitions_of(topics: Iterable[str], cluster: Mapping[str, Any]) -> set[_Key]:
    """The partitions of `topics`; a topic missing from the cluster is an error."""
    keys: set[_Key] = set()
    for topic in topics:
        meta = cluster.get(topic)
        if meta is None:
            raise KafkaException(f"topic {topic!r} does not exist")
        if meta.error is not None:
            raise KafkaException(meta.error)
        keys.update((topic, p) for p in meta.partitions)
    return keys
