"""Heartbeat-aware status on the real broker and job store: a partition held by a long running
job that heartbeats is never STALL or ERR; the same partition with a silent job is."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import TopicPartition

from dpp_ops.exporters import LagMonitor, WatchTarget
from dpp_ops.lag import (
    LagHistory,
    LagReader,
    LagStatus,
    Observation,
    StatusRules,
    evaluate_partition,
)
from dpp_ops.lag.heads import HeadJobReader
from dpp_store import JobStart, JobStore
from tests.ops.lag.scratch import KafkaScratch
from tests.waiting import wait_until

RULES = StatusRules(
    window_s=600, max_observations=10, min_observations=3, stop_after_s=20, stall_after_s=20,
    heartbeat_timeout_s=60,
)  # fmt: skip


def test_busy_frozen_partition_is_ok_and_warns_only_when_lag_grows() -> None:
    busy = "head job j1 (echo) is running"
    window = [
        Observation(at=i * 10.0, committed=4, end=9, lag=5, owned=True, busy=busy) for i in range(6)
    ]
    verdict = evaluate_partition(window, RULES)
    assert (verdict.status, verdict.reason) == (LagStatus.OK, busy)
    growing = [
        Observation(at=i * 10.0, committed=4, end=9 + i, lag=5 + i, owned=True, busy=busy)
        for i in range(6)
    ]
    assert evaluate_partition(growing, RULES).status is LagStatus.WARN
    silent = [Observation(at=o.at, committed=4, end=9, lag=5, owned=True) for o in window]
    assert evaluate_partition(silent, RULES).status is LagStatus.STALL


@pytest.mark.parametrize("heartbeat_age_s", [5.0, 600.0], ids=["heartbeating", "silent"])
def test_long_job_at_the_committed_offset(
    kafka: KafkaScratch, kafka_bootstrap: str, database_url: str, heartbeat_age_s: float
) -> None:
    topic, group = kafka.topic(), kafka.group()
    kafka.produce(topic, 5)
    member = kafka.consumer(group)
    member.subscribe([topic])
    wait_until(lambda: member.poll(0.2) is not None or member.assignment(), what="assignment")
    member.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)

    # A worker started the job of offset 2; its record was last touched heartbeat_age_s ago.
    started = datetime.now(UTC) - timedelta(seconds=heartbeat_age_s)
    store = JobStore.from_url(database_url, clock=lambda: started)
    store.migrate()
    store.begin(JobStart("job-at-2", "demo.echo.requested.v1", "echo", topic, 0, 2))
    # Another job, still running but not at the committed offset, must not count.
    store.begin(JobStart("job-at-3", "demo.echo.requested.v1", "echo", topic, 0, 3))

    # The reader's clock moves 10 s per read, so the offset is frozen for 20 s in 3 samples.
    ticks = itertools.count()
    origin = time.time()
    reader = LagReader(kafka_bootstrap, clock=lambda: origin + 10 * next(ticks))
    monitor = LagMonitor(
        reader, [WatchTarget(group, (topic,))], LagHistory(RULES), heads=HeadJobReader(store.engine)
    )
    try:
        for _ in range(4):
            member.poll(0.05)  # stay in the group: the partition stays owned
            snapshot = monitor.sample()
    finally:
        monitor.close()
        store.close()
    (report,) = snapshot.groups
    assert report.status is not None and report.status.complete
    (partition,) = report.as_dict()["partitions"]
    assert partition["lag"] == 3 and partition["owner"] is not None
    if heartbeat_age_s < RULES.heartbeat_timeout_s:
        assert partition["status"] == "OK", partition
        assert "head job job-at-2 (echo) is running" in partition["reason"]
        assert report.status_name == "OK" and report.healthy
    else:
        assert partition["status"] == "STALL", partition
        assert report.status_name == "ERR" and not report.healthy


def test_a_topic_paused_on_purpose_is_never_stall() -> None:
    from dpp_ops.lag import GroupLag, LagSource, PartitionLag

    def lag_at(at: float) -> GroupLag:
        entry = PartitionLag(
            "g", "jobs", 0, 4, 0, 9, 9, 4, LagSource.COMMITTED, 5, 1.0, 4, at, "member-1", at
        )
        return GroupLag("g", "STABLE", 1, (entry,), at)

    held, silent = LagHistory(RULES), LagHistory(RULES)
    for n in range(5):
        held.record(lag_at(n * 10.0), held={"jobs": "job type echo paused by ann"})
        silent.record(lag_at(n * 10.0))
    (verdict,) = held.status("g").partitions
    assert (verdict.status, verdict.reason) == (LagStatus.OK, "job type echo paused by ann")
    assert silent.status("g").partitions[0].status is LagStatus.STALL
