"""The lag reader against a real broker: exact burst lag, growing age and the edge cases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition

from dpp_ops.committed import committed_offsets, offset_fetch_consumer
from dpp_ops.lag import GroupLag, LagReader, LagSource
from tests.ops.lag.scratch import KafkaScratch
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def reader(kafka_bootstrap: str) -> Iterator[LagReader]:
    with LagReader(kafka_bootstrap, probe_timeout_s=10.0) as lag_reader:
        yield lag_reader


def consume(consumer: Consumer, count: int, timeout: float = 30.0) -> dict[int, int]:
    """Poll exactly ``count`` records; returns the next offset per partition."""
    positions: dict[int, int] = {}
    seen = 0

    def step() -> bool:
        nonlocal seen
        msg = consumer.poll(0.2)
        if msg is not None and msg.error() is None:
            positions[msg.partition() or 0] = (msg.offset() or 0) + 1
            seen += 1
        return seen >= count

    wait_until(step, timeout_s=timeout, every_s=0, what=f"{count} records consumed")
    return positions


def commit(consumer: Consumer, topic: str, positions: dict[int, int]) -> None:
    consumer.commit(
        offsets=[TopicPartition(topic, p, o) for p, o in positions.items()], asynchronous=False
    )


def test_burst_lag_is_exactly_produced_minus_consumed(
    kafka: KafkaScratch, reader: LagReader
) -> None:
    topic = kafka.topic(partitions=3)
    produced = {p: len(kafka.produce(topic, 100 + 10 * p, partition=p)) for p in range(3)}
    group = kafka.group()
    consumer = kafka.consumer(group, **{"max.poll.interval.ms": 60000})
    consumer.subscribe([topic])
    positions = consume(consumer, 137)
    commit(consumer, topic, positions)

    lag = reader.read_group(group, [topic])

    assert lag.state == "STABLE" and lag.members == 1
    consumed = sum(positions.values())
    assert lag.total_lag == sum(produced.values()) - consumed
    for p in range(3):
        entry = lag.partition(topic, p)
        assert entry.lag_messages == produced[p] - positions.get(p, 0)
        assert entry.log_end_offset == produced[p]
        assert entry.owner is not None
        if entry.lag_messages:
            assert entry.first_pending_offset == positions.get(p, 0)
            assert entry.lag_seconds is not None and entry.lag_seconds >= 0
        else:
            assert entry.lag_seconds == 0.0


def test_lag_seconds_grow_while_group_is_stopped(kafka: KafkaScratch, reader: LagReader) -> None:
    topic = kafka.topic()
    kafka.produce(topic, 5)
    group = kafka.group()
    consumer = kafka.consumer(group)
    consumer.subscribe([topic])
    commit(consumer, topic, consume(consumer, 2))
    kafka.close(consumer)

    first = reader.read_group(group, [topic]).partition(topic, 0)
    assert first.lag_messages == 3 and first.lag_seconds is not None
    start_age = first.lag_seconds

    def older() -> GroupLag | None:
        lag = reader.read_group(group, [topic])
        entry = lag.partition(topic, 0)
        assert entry.lag_seconds is not None
        return lag if entry.lag_seconds >= start_age + 1.0 else None

    later = wait_until(older, timeout_s=20, every_s=0.2, what="lag seconds to grow").partition(
        topic, 0
    )
    assert later.lag_messages == 3
    assert later.first_pending_offset == first.first_pending_offset == 2
    assert later.first_pending_timestamp == first.first_pending_timestamp


def test_no_committed_offset_follows_the_reset_policy(
    kafka: KafkaScratch, kafka_bootstrap: str, reader: LagReader
) -> None:
    topic = kafka.topic(partitions=2)
    kafka.produce(topic, 4, partition=0)
    group = kafka.group()  # never joins nor commits

    earliest = reader.read_group(group, [topic])
    assert earliest.state in {"DEAD", "EMPTY"} and earliest.members == 0
    p0 = earliest.partition(topic, 0)
    assert p0.committed_offset is None and p0.source is LagSource.NO_COMMIT
    assert (p0.position, p0.lag_messages, p0.first_pending_offset) == (0, 4, 0)
    assert earliest.partition(topic, 1).lag_messages == 0

    with LagReader(kafka_bootstrap, offset_reset="latest") as latest_reader:
        latest = latest_reader.read_group(group, [topic])
    assert latest.total_lag == 0
    assert latest.partition(topic, 0).position == 4

    # Without the topic list a group with no commits has no partitions to report.
    assert reader.read_group(group).partitions == ()


def test_empty_partition_has_zero_lag_and_zero_age(kafka: KafkaScratch, reader: LagReader) -> None:
    topic = kafka.topic(partitions=2)
    kafka.produce(topic, 3, partition=0)
    group = kafka.group()
    kafka.commit(group, topic, {0: 3, 1: 0})

    lag = reader.read_group(group, [topic])

    for p in (0, 1):
        entry = lag.partition(topic, p)
        assert (entry.lag_messages, entry.lag_seconds) == (0, 0.0)
    empty = lag.partition(topic, 1)
    assert (empty.log_start_offset, empty.log_end_offset, empty.committed_offset) == (0, 0, 0)


def test_transaction_markers_are_not_pending_messages(
    kafka: KafkaScratch, reader: LagReader
) -> None:
    topic = kafka.topic()
    group = kafka.group()
    producer = kafka.producer(**{"transactional.id": f"{topic}-tx"})
    producer.init_transactions(30)

    def transaction(count: int, *, commit: bool) -> list[int]:
        offsets: list[int] = []
        producer.begin_transaction()
        for i in range(count):
            producer.produce(
                topic,
                value=f"tx{i}".encode(),
                partition=0,
                on_delivery=lambda err, msg: (
                    offsets.append(msg.offset() or 0) if err is None else None
                ),
            )
        producer.flush(30)
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
        return offsets

    committed_offsets = transaction(10, commit=True)
    consumer = kafka.consumer(group)
    consumer.subscribe([topic])
    commit(consumer, topic, consume(consumer, 10))
    kafka.close(consumer)

    after_all = reader.read_group(group, [topic]).partition(topic, 0)
    # The commit marker sits at offset 10, so the log ends at 11 while the group is at 10.
    assert committed_offsets == list(range(10))
    assert after_all.committed_offset == 10 and after_all.end_offset == 11
    assert after_all.offset_distance == 1
    assert (after_all.lag_messages, after_all.lag_seconds) == (0, 0.0)

    transaction(5, commit=False)  # aborted records and their marker: nothing to consume
    after_abort = reader.read_group(group, [topic]).partition(topic, 0)
    assert after_abort.offset_distance == 7
    assert (after_abort.lag_messages, after_abort.lag_seconds) == (0, 0.0)

    pending = transaction(3, commit=True)
    after_more = reader.read_group(group, [topic]).partition(topic, 0)
    assert after_more.first_pending_offset == pending[0]
    # Counted from the first real pending record; only the trailing marker is extra.
    assert after_more.lag_messages == after_more.end_offset - pending[0] == len(pending) + 1
    assert after_more.lag_seconds is not None
    producer.flush(10)


def test_retention_deleted_offsets_count_from_log_start(
    kafka: KafkaScratch, kafka_bootstrap: str, reader: LagReader
) -> None:
    topic = kafka.topic()
    kafka.produce(topic, 10)
    group = kafka.group()
    kafka.commit(group, topic, {0: 2})
    deleted = kafka.admin.delete_records([TopicPartition(topic, 0, 6)])
    for future in deleted.values():
        future.result(timeout=30)

    entry = reader.read_group(group, [topic]).partition(topic, 0)

    assert entry.committed_offset == 2 and entry.log_start_offset == 6
    assert entry.source is LagSource.OUT_OF_RANGE
    assert (entry.position, entry.lag_messages, entry.first_pending_offset) == (6, 4, 6)
    with LagReader(kafka_bootstrap, offset_reset="latest") as latest_reader:
        assert latest_reader.read_group(group, [topic]).total_lag == 0


@pytest.mark.slow
def test_compacted_offsets_at_the_position_are_not_pending(
    kafka: KafkaScratch, reader: LagReader
) -> None:
    topic = kafka.topic(
        config={
            "cleanup.policy": "compact",
            "segment.ms": "100",
            "min.cleanable.dirty.ratio": "0.01",
            "min.compaction.lag.ms": "0",
            "delete.retention.ms": "0",
        }
    )
    producer = kafka.producer()
    for i in range(6):
        producer.produce(topic, key=b"k%d" % (i % 2), value=b"v%d" % i, partition=0)
    assert producer.flush(30) == 0
    group = kafka.group()
    kafka.commit(group, topic, {0: 0})
    probe = kafka.consumer(kafka.group())
    probe.assign([TopicPartition(topic, 0, 0)])

    def compacted() -> bool:
        # Each append after segment.ms rolls a segment, so the cleaner can reach the old ones.
        producer.produce(topic, key=b"roll", value=b"r", partition=0)
        producer.flush(10)
        probe.seek(TopicPartition(topic, 0, 0))
        msg = probe.poll(1.0)
        return msg is not None and msg.error() is None and (msg.offset() or 0) > 0

    wait_until(compacted, timeout_s=90, every_s=0.5, what="log cleaner to compact offset 0")
    kafka.close(probe)

    entry = reader.read_group(group, [topic]).partition(topic, 0)

    assert entry.committed_offset == 0 and entry.log_start_offset == 0
    assert entry.first_pending_offset is not None and entry.first_pending_offset > 0
    assert entry.lag_messages == entry.end_offset - entry.first_pending_offset
    assert entry.lag_messages < entry.offset_distance
    assert entry.lag_seconds is not None


def test_rebalancing_group_is_reported_with_unchanged_lag(
    kafka: KafkaScratch, reader: LagReader
) -> None:
    topic = kafka.topic(partitions=2)
    for p in range(2):
        kafka.produce(topic, 5, partition=p)
    group = kafka.group()
    kafka.commit(group, topic, {0: 1, 1: 2})
    slow = kafka.consumer(group, **{"max.poll.interval.ms": 90000, "session.timeout.ms": 45000})
    slow.subscribe([topic])

    def assigned() -> bool:
        slow.poll(0.1)
        return bool(slow.assignment())

    wait_until(assigned, what="first member assigned")
    # The first member stops polling; a second one joins. The coordinator waits for the
    # first to rejoin, so the group stays in PreparingRebalance while we read it.
    joiner = kafka.consumer(group)
    joiner.subscribe([topic])

    def rebalancing() -> GroupLag | None:
        joiner.poll(0.1)
        lag = reader.read_group(group, [topic])
        return lag if lag.rebalancing else None

    lag = wait_until(rebalancing, timeout_s=30, every_s=0, what="group to be rebalancing")
    assert lag.total_lag == 4 + 3
    assert {p.committed_offset for p in lag.partitions} == {1, 2}


def test_committed_offsets_read_without_joining_the_group(
    kafka: KafkaScratch, reader: LagReader
) -> None:
    topic = kafka.topic()
    kafka.produce(topic, 3)
    group = kafka.group()
    kafka.commit(group, topic, {0: 1})
    reader.read_group(group, [topic])
    fetcher = offset_fetch_consumer({"bootstrap.servers": kafka.bootstrap}, group)
    try:
        assert committed_offsets(fetcher, [(topic, 0)], 30) == {(topic, 0): 1}
    finally:
        fetcher.close()
    description = kafka.admin.describe_consumer_groups([group])[group].result(timeout=30)
    assert description.members == []


def test_offsets_of_a_deleted_topic_are_dropped(kafka: KafkaScratch, reader: LagReader) -> None:
    kept, gone = kafka.topic(), kafka.topic()
    kafka.produce(kept, 4)
    kafka.produce(gone, 4)
    group = kafka.group()
    kafka.commit(group, kept, {0: 1})
    kafka.commit(group, gone, {0: 1})
    kafka.admin.delete_topics([gone], operation_timeout=30)[gone].result(timeout=60)

    def only_kept() -> GroupLag | None:
        lag = reader.read_group(group)
        return lag if {p.topic for p in lag.partitions} == {kept} else None

    lag = wait_until(only_kept, what="deleted topic to disappear from the group's lag")
    assert lag.total_lag == 3
    # The coordinator drops such offsets lazily; until it does the reader must skip them.
    # That window is a race, so check the skip itself on a topic that never existed.
    assert reader._offsets({(f"{gone}-never", 0)}) == {}


def test_probe_never_creates_a_consumer_group(kafka: KafkaScratch, reader: LagReader) -> None:
    topic = kafka.topic()
    kafka.produce(topic, 2)
    group = kafka.group()
    kafka.commit(group, topic, {0: 0})
    assert reader.read_group(group, [topic]).partition(topic, 0).first_pending_offset == 0
    listed = kafka.admin.list_consumer_groups(request_timeout=30).result(timeout=30)
    assert "dpp-lag-probe" not in {g.group_id for g in listed.valid}


def test_committed_offset_beyond_the_log_end_is_out_of_range(
    kafka: KafkaScratch, reader: LagReader
) -> None:
    # What a group sees after a topic is recreated or truncated under it.
    topic = kafka.topic()
    kafka.produce(topic, 3)
    group = kafka.group()
    kafka.commit(group, topic, {0: 100})
    entry = reader.read_group(group, [topic]).partition(topic, 0)
    assert entry.source is LagSource.OUT_OF_RANGE and entry.committed_offset == 100
    assert (entry.position, entry.lag_messages) == (0, 3)


def test_probe_timeout_falls_back_to_offset_lag_without_age(
    kafka: KafkaScratch, kafka_bootstrap: str
) -> None:
    topic = kafka.topic()
    kafka.produce(topic, 4)
    group = kafka.group()
    kafka.commit(group, topic, {0: 1})
    with LagReader(kafka_bootstrap, probe_timeout_s=1e-9) as hasty:
        entry = hasty.read_group(group, [topic]).partition(topic, 0)
    assert (entry.lag_messages, entry.lag_seconds, entry.first_pending_offset) == (3, None, None)
    with LagReader(kafka_bootstrap, probe=False) as blind:
        assert blind.read_group(group, [topic]).partition(topic, 0).lag_seconds is None
