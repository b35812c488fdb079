"""Fast (batchable) units run inline on the dispatching (poll) thread; slow ones on the job
threads; an inline unit whose store is unavailable before it wrote anything goes to a job
thread instead of stalling the poll loop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from pydantic import BaseModel

from dpp_consumer.context import JobContext
from dpp_consumer.executor import Completion, Executor, JobPool
from dpp_consumer.jobs.echo import EchoResult
from dpp_consumer.jobs.registry import JobRegistry
from dpp_consumer.records import ConsumedRecord
from dpp_consumer.units import Outcome, Unit, UnitDeferredError

ECHO, INDEX = "demo.echo.requested.v1", "persona.index.rebuild.requested.v1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _handler(ctx: JobContext[BaseModel]) -> EchoResult:
    raise AssertionError("not run in these tests")


def _registry() -> JobRegistry:
    jobs = JobRegistry()
    jobs.job(ECHO, result=EchoResult, batchable=True)(_handler)
    jobs.job(INDEX, result=EchoResult)(_handler)
    return jobs


def _record(offset: int, event_type: str) -> ConsumedRecord:
    return ConsumedRecord(
        "jobs", 0, offset, key=b"k", value=b"{}", headers=[("ce_type", event_type.encode())]
    )


class _Threads:
    """Runs units, noting the thread each ran on; optionally defers inline runs once."""

    def __init__(self, *, defer_inline: bool = False) -> None:
        self.ran_on: dict[int, str] = {}
        self.defer_inline = defer_inline

    def run(self, unit: Unit) -> list[Outcome]:
        self.ran_on[unit.records[0].offset] = threading.current_thread().name
        return [Outcome(r.topic, r.partition, r.offset, True) for r in unit.records]

    def run_inline(self, unit: Unit) -> list[Outcome]:
        if self.defer_inline:
            raise UnitDeferredError("store unavailable")
        return self.run(unit)


def _executor(threads: _Threads) -> tuple[Executor, JobPool]:
    pool = JobPool(2, threads.run, threads.run, threads.run_inline)
    executor = Executor(
        pool=pool, registry=_registry(), batch_size=10, partition_buffer=100,
        delayed_topics=[], inline_fast_jobs=True,
    )  # fmt: skip
    executor.assign([("jobs", 0)])
    return executor, pool


def _collect(executor: Executor, count: int) -> list[Completion]:
    done: list[Completion] = []
    while len(done) < count:
        done += executor.collect(timeout_s=10)
    return done


def test_fast_units_run_on_the_poll_thread_and_slow_ones_on_job_threads() -> None:
    threads = _Threads()
    executor, pool = _executor(threads)
    try:
        executor.add(_record(0, ECHO))
        executor.add(_record(1, ECHO))
        executor.add(_record(2, INDEX))
        executor.dispatch(NOW)
        done = _collect(executor, 2)
    finally:
        pool.shutdown()
    assert threads.ran_on[0] == threading.current_thread().name  # offsets 0-1: one fast unit
    assert threads.ran_on[2].startswith("dpp-job-")
    assert sorted(len(unit.records) for unit, _ in done) == [1, 2]
    assert executor.in_flight == 0


def test_an_inline_unit_deferred_by_the_store_runs_on_a_job_thread() -> None:
    threads = _Threads(defer_inline=True)
    executor, pool = _executor(threads)
    try:
        executor.add(_record(0, ECHO))
        executor.dispatch(NOW)
        ((_unit, outcomes),) = _collect(executor, 1)
    finally:
        pool.shutdown()
    assert threads.ran_on[0].startswith("dpp-job-")
    assert [o.offset for o in outcomes] == [0] and executor.in_flight == 0
