"""Scheduling without Kafka: per-key order, batching of fast jobs, pause/resume decisions."""

from __future__ import annotations

import queue
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from dpp_consumer.context import JobContext
from dpp_consumer.executor import Completion, Executor
from dpp_consumer.jobs.echo import EchoResult
from dpp_consumer.jobs.registry import JobRegistry
from dpp_consumer.records import ConsumedRecord
from dpp_consumer.units import Outcome, Unit
from dpp_shared import headers as hdr

ECHO, INDEX = "demo.echo.requested.v1", "persona.index.rebuild.requested.v1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class RecordingPool:
    """Stands in for JobPool: records submitted units; the test completes them by hand."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.submitted: list[Unit] = []
        self.completed: queue.SimpleQueue[Completion] = queue.SimpleQueue()

    def submit(self, unit: Unit) -> None:
        self.submitted.append(unit)

    def finish(self, unit: Unit) -> None:
        outcomes = [Outcome(r.topic, r.partition, r.offset, True) for r in unit.records]
        self.completed.put((unit, outcomes))


def handler(ctx: JobContext[BaseModel]) -> EchoResult:
    raise AssertionError("not run in these tests")


def registry(*, batchable: bool) -> JobRegistry:
    jobs = JobRegistry()
    jobs.job(ECHO, result=EchoResult, batchable=batchable)(handler)
    jobs.job(INDEX, result=EchoResult)(handler)
    return jobs


def record(
    offset: int,
    event_type: str = ECHO,
    key: bytes = b"k",
    topic: str = "jobs",
    headers: dict[str, str] | None = None,
) -> ConsumedRecord:
    raw = [("ce_type", event_type.encode())]
    raw += [(n, v.encode()) for n, v in (headers or {}).items()]
    return ConsumedRecord(topic, 0, offset, key=key, value=b"{}", headers=list(raw))


def executor(pool: RecordingPool, *, batchable: bool = False, buffer: int = 10) -> Executor:
    ex = Executor(
        pool=pool,  # type: ignore[arg-type]
        registry=registry(batchable=batchable),
        batch_size=4,
        partition_buffer=buffer,
        delayed_topics=["jobs.retry.1"],
    )
    ex.assign([("jobs", 0), ("jobs.retry.1", 0)])
    return ex


def test_ordered_events_of_one_key_run_one_at_a_time_in_offset_order() -> None:
    pool = RecordingPool(concurrency=4)
    ex = executor(pool)
    for offset, key in enumerate([b"a", b"a", b"b"]):
        ex.add(record(offset, INDEX, key))
    ex.dispatch(NOW)
    assert [u.records[0].offset for u in pool.submitted] == [0]  # 1 waits for 0; 2 waits behind
    pool.finish(pool.submitted[0])
    ex.collect()
    ex.dispatch(NOW)
    assert [u.records[0].offset for u in pool.submitted] == [0, 1, 2]


def test_fast_jobs_are_batched_and_slow_ones_respect_the_pool_size() -> None:
    pool = RecordingPool(concurrency=2)
    fast = executor(pool, batchable=True)
    for offset in range(6):
        fast.add(record(offset))
    fast.dispatch(NOW)
    assert [len(u.records) for u in pool.submitted] == [4, 2]

    slow_pool = RecordingPool(concurrency=2)
    slow = executor(slow_pool)
    for offset in range(5):
        slow.add(record(offset))
    slow.dispatch(NOW)
    assert len(slow_pool.submitted) == 2 and slow.in_flight == 2


def test_busy_partitions_are_paused_and_resumed_once_they_can_take_more() -> None:
    pool = RecordingPool(concurrency=1)
    ex = executor(pool)
    ex.add(record(0))
    ex.add(record(1))
    ex.dispatch(NOW)
    assert ex.flow_changes() == ([("jobs", 0)], [])  # record 1 cannot start: stop fetching
    pool.finish(pool.submitted[0])
    ex.collect()
    ex.dispatch(NOW)
    assert ex.flow_changes() == ([], [("jobs", 0)])


def test_a_retry_tier_waits_for_not_before_by_pausing_its_partition() -> None:
    pool = RecordingPool(concurrency=4)
    ex = executor(pool)
    due = NOW + timedelta(seconds=5)
    ex.add(record(0, topic="jobs.retry.1", headers={hdr.NOT_BEFORE: due.isoformat()}))
    ex.dispatch(NOW)
    assert pool.submitted == []
    assert ex.flow_changes() == ([("jobs.retry.1", 0)], [])
    ex.dispatch(due + timedelta(milliseconds=1))
    assert len(pool.submitted) == 1
    assert ex.flow_changes() == ([], [("jobs.retry.1", 0)])


def test_revocation_drops_waiting_records_and_cancels_running_ones() -> None:
    pool = RecordingPool(concurrency=1)
    ex = executor(pool)
    ex.add(record(0))
    ex.add(record(1))
    ex.dispatch(NOW)
    ex.revoke([("jobs", 0)], "partition revoked")
    assert pool.submitted[0].cancellation.is_set
    assert not ex.partitions[("jobs", 0)].backlog
    ex.stop_intake()
    assert not ex.add(record(2))


def test_a_partition_holding_too_much_uncommitted_work_takes_no_more() -> None:
    pool = RecordingPool(concurrency=4)
    held = {("jobs", 0): 0}
    ex = Executor(
        pool=pool,  # type: ignore[arg-type]
        registry=registry(batchable=False),
        batch_size=4,
        partition_buffer=3,
        delayed_topics=[],
        tracked=lambda key: held.get(key, 0),
    )
    ex.assign([("jobs", 0)])
    ex.add(record(10))
    held[("jobs", 0)] = 4  # e.g. a long job at offset 7 and two finished ones behind it
    ex.dispatch(NOW)
    assert pool.submitted == []
    assert ex.flow_changes() == ([("jobs", 0)], [])
    held[("jobs", 0)] = 1
    ex.dispatch(NOW)
    assert len(pool.submitted) == 1
