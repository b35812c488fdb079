"""Fixtures of the worker tests: a migrated job store, a unique group, worker processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from dpp_shared.topics import TopicNamespace
from dpp_store import JobStore
from tests.consumer.harness import WorkerProcess
from tests.fixtures.kafka import delete_groups


@pytest.fixture
def store(database_url: str) -> Iterator[JobStore]:
    job_store = JobStore.from_url(database_url)
    job_store.migrate()
    try:
        yield job_store
    finally:
        job_store.close()


@pytest.fixture
def group(unique_name: str, kafka_admin: AdminClient) -> Iterator[str]:
    """A consumer group for this test only; deleted at teardown."""
    yield unique_name
    delete_groups(kafka_admin, [unique_name])


WorkerFactory = Callable[..., WorkerProcess]


@pytest.fixture
def worker_process(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    database_url: str,
    group: str,
    tmp_path: Path,
) -> Iterator[WorkerFactory]:
    """Start scripted-job worker processes on this test's topics, store and group."""
    started: list[WorkerProcess] = []

    def start(*, real_jobs: bool = False, **env: str) -> WorkerProcess:
        settings = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "DPP_TOPIC_PREFIX": topic_namespace.prefix,
            "DATABASE_URL": database_url,
            "DPP_CONSUMER_GROUP": group,
            "DPP_METRICS_PORT": "0",
            **env,
        }
        log = tmp_path / f"worker-{len(started)}.log"
        process = WorkerProcess(settings, log, real_jobs=real_jobs)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.kill()
