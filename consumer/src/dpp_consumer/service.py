"""The worker's composition root: settings, job store, metrics endpoint, signals, then the loop."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from types import FrameType

from dpp_consumer.jobs import default_jobs
from dpp_consumer.jobs.registry import JobRegistry
from dpp_consumer.log import worker_logger
from dpp_consumer.metrics import WorkerMetrics
from dpp_consumer.settings import WorkerSettings, worker_settings
from dpp_consumer.worker import Worker
from dpp_shared.settings import aws_settings, database_settings, kafka_settings, topic_settings
from dpp_shared.topics import TopicNamespace
from dpp_shared.tracing import build_tracing
from dpp_store import JobStore
from dpp_store.database_secret import resolve_database_url

WORKER_SERVICE_NAME = "dpp-worker"


def build_worker(
    settings: WorkerSettings | None = None, registry: JobRegistry | None = None
) -> Worker:
    """A worker wired from the environment; connects to nothing until `run()`."""
    settings = settings or worker_settings()
    store = JobStore.from_url(
        resolve_database_url(database_settings().database_url, settings.database_secret_arn),
        pool_size=settings.worker_concurrency + 1,
        max_overflow=settings.worker_concurrency,
    )
    return Worker(
        settings=settings,
        kafka=kafka_settings(),
        aws=aws_settings(),
        namespace=TopicNamespace(topic_settings().topic_prefix),
        store=store,
        registry=registry or default_jobs(),
        metrics=WorkerMetrics(),
        logger=worker_logger(),
        tracing=build_tracing(settings.tracing, WORKER_SERVICE_NAME),
    )


def run_worker(
    settings: WorkerSettings | None = None,
    registry: JobRegistry | None = None,
    *,
    on_ready: Callable[[Worker, int | None], None] | None = None,
) -> None:
    """Run one worker until SIGTERM/SIGINT, then drain. `on_ready` gets the worker and the
    metrics port once it has subscribed."""
    worker = build_worker(settings, registry)
    logger = worker.logger
    worker.store.migrate()
    metrics_port = None
    if worker.settings.metrics_port:
        metrics_port = worker.metrics.serve(
            worker.settings.metrics_port, worker.settings.metrics_host
        )

    def request_drain(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if worker.stopping:
            # A second signal means "now": exit without committing; every unfinished event is
            # redelivered (at least once), so this loses nothing.
            logger.warning("second signal during drain; exiting now", extra={"signal": name})
            os._exit(128 + signum)
        logger.info("drain requested", extra={"signal": name})
        worker.stop()

    previous = {sig: signal.signal(sig, request_drain) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker.run(ready=(lambda: on_ready(worker, metrics_port)) if on_ready else None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        worker.store.close()
        if worker.tracing is not None:
            worker.tracing.shutdown()  # exports the spans still batched
