"""`python -m bench.peers.worker STORE`: the dpp worker (`run_worker`, settings from the usual
env vars) with STORE `null` (bookkeeping that keeps nothing: the worker's own cost) or a
database URL (the durable job store). Runs until SIGTERM, then drains and writes the tally of
job handler calls that returned ($BENCH_COUNT_TO).

With BENCH_PROFILE_TO=<file> the poll loop and every job thread run under pyinstrument (one
profiler per thread) and the profiles are written to <file> at exit."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pyinstrument import Profiler

from bench.peers.tally import Tally
from bench.profiling import INTERVAL_S, render
from dpp_consumer.bookkeeping import JobBook
from dpp_consumer.context import JobContext
from dpp_consumer.executor import JobPool
from dpp_consumer.jobs import JobRegistry, default_jobs
from dpp_consumer.jobs.registry import Handler
from dpp_consumer.log import worker_logger
from dpp_consumer.metrics import WorkerMetrics
from dpp_consumer.settings import worker_settings
from dpp_consumer.worker import Worker
from dpp_shared.settings import aws_settings, kafka_settings, topic_settings
from dpp_shared.topics import TopicNamespace
from dpp_store import JobRecord, JobStart, JobStatus, JobStore


class NullJobStore:
    """Answers like a store seeing every job for the first time and keeps nothing."""

    def migrate(self) -> None:
        return None

    def close(self) -> None:
        return None

    def begin_many(self, starts: Iterable[JobStart]) -> dict[str, JobRecord]:
        now = datetime.now(UTC)
        return {
            start.job_id: JobRecord(
                id=start.job_id,
                event_type=start.event_type,
                job_type=start.job_type,
                status=JobStatus.RUNNING,
                attempts=1,
                progress=0.0,
                progress_message=None,
                result=None,
                error=None,
                source_topic=start.topic,
                source_partition=start.partition,
                source_offset=start.offset,
                correlation_id=start.correlation_id,
                owner=start.owner,
                created_at=now,
                updated_at=now,
                started_at=now,
                finished_at=None,
            )
            for start in starts
        }

    def get(self, job_id: str) -> None:
        return None

    def load_checkpoint(self, job_id: str) -> None:
        return None

    def save_checkpoint(
        self,
        job_id: str,
        checkpoint: dict[str, Any],
        *,
        progress: float | None = None,
        message: str | None = None,
    ) -> None:
        return None

    def report_progress(self, job_id: str, progress: float, message: str | None = None) -> None:
        return None

    def get_many(self, job_ids: Iterable[str]) -> dict[str, JobRecord]:
        return {}

    def succeed_many(self, results: Mapping[str, dict[str, Any]]) -> set[str]:
        return set(results)

    def finish_many(
        self, starts: Sequence[JobStart], results: Mapping[str, dict[str, Any]]
    ) -> set[str]:
        return set(results)

    def begin(self, start: JobStart) -> JobRecord:
        return self.begin_many([start])[start.job_id]

    def fail(self, job_id: str, error: str, *, dead: bool) -> bool:
        return True

    def heartbeat(self, job_ids: list[str]) -> int:
        return 0


_THREAD_PROFILES: list[tuple[str, Profiler]] = []


def _profile_job_threads() -> None:
    """Wrap each job thread's loop in its own profiler (pyinstrument samples one thread)."""
    original = JobPool._work

    def profiled(pool: JobPool) -> None:
        profiler = Profiler(interval=INTERVAL_S)
        profiler.start()
        try:
            original(pool)
        finally:
            profiler.stop()
            _THREAD_PROFILES.append((threading.current_thread().name, profiler))

    JobPool._work = profiled  # type: ignore[method-assign,assignment]


def _counting(handler: Handler, tally: Tally) -> Handler:
    def counted(ctx: JobContext[Any]) -> BaseModel:
        result = handler(ctx)
        tally.add()
        return result

    return counted


def counted_jobs(tally: Tally) -> JobRegistry:
    """The platform's jobs, each handler wrapped to count the calls that returned."""
    registry = JobRegistry()
    for spec in default_jobs():
        registry.job(
            spec.event_type.name,
            result=spec.result,
            job_type=spec.job_type,
            timeout_s=spec.timeout_s,
            batchable=spec.batchable,
        )(_counting(spec.handler, tally))
    return registry


def main() -> None:
    target = sys.argv[1]
    tally = Tally()
    profile_to = os.environ.get("BENCH_PROFILE_TO")
    if profile_to:
        _profile_job_threads()
    settings = worker_settings()
    store: JobBook = (
        NullJobStore()
        if target == "null"
        else JobStore.from_url(
            target,
            pool_size=settings.worker_concurrency + 1,
            max_overflow=settings.worker_concurrency,
        )
    )
    worker = Worker(
        settings=settings,
        kafka=kafka_settings(),
        aws=aws_settings(),
        namespace=TopicNamespace(topic_settings().topic_prefix),
        store=store,
        registry=counted_jobs(tally),
        metrics=WorkerMetrics(),
        logger=worker_logger(),
    )
    store.migrate()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: worker.stop())
    loop_profiler = Profiler(interval=INTERVAL_S)
    if profile_to:
        loop_profiler.start()
    try:
        worker.run()
    finally:
        store.close()
        tally.write()
    if profile_to:
        loop_profiler.stop()
        deadline = time.monotonic() + 5
        while len(_THREAD_PROFILES) < settings.worker_concurrency and time.monotonic() < deadline:
            time.sleep(0.05)
        parts = [f"== poll loop (main thread)\n{render(loop_profiler)}"]
        busiest = max(_THREAD_PROFILES, key=lambda item: _busy_s(item[1]), default=None)
        if busiest is not None:
            parts.append(f"== busiest job thread ({busiest[0]})\n{render(busiest[1])}")
        Path(profile_to).write_text("\n".join(parts))


def _busy_s(profiler: Profiler) -> float:
    session = profiler.last_session
    return 0.0 if session is None else float(session.cpu_time)


if __name__ == "__main__":
    main()
