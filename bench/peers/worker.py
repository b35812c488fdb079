"""`python -m bench.peers.worker STORE`: the dpp worker (`run_worker`, settings from the usual
env vars) with STORE `null` (bookkeeping that keeps nothing: the worker's own cost) or a
database URL (the durable job store). Runs until SIGTERM, then drains."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from dpp_consumer.jobs import default_jobs
from dpp_consumer.log import worker_logger
from dpp_consumer.metrics import WorkerMetrics
from dpp_consumer.settings import worker_settings
from dpp_consumer.worker import Worker
from dpp_shared.settings import aws_settings, kafka_settings, topic_settings
from dpp_shared.store import JobRecord, JobStart, JobStatus, JobStore
from dpp_shared.topics import TopicNamespace


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
                created_at=now,
                updated_at=now,
                started_at=now,
                finished_at=None,
            )
            for start in starts
        }

    def succeed_many(self, results: Mapping[str, dict[str, Any]]) -> set[str]:
        return set(results)

    def fail(self, job_id: str, error: str, *, dead: bool) -> bool:
        return True


def main() -> None:
    target = sys.argv[1]
    settings = worker_settings()
    store: Any = (
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
        store=cast(JobStore, store),
        registry=default_jobs(),
        metrics=WorkerMetrics(),
        logger=worker_logger(),
    )
    store.migrate()
    import signal

    signal.signal(signal.SIGTERM, lambda _signum, _frame: worker.stop())
    try:
        worker.run()
    finally:
        store.close()


if __name__ == "__main__":
    main()
