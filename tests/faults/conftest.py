"""Fixtures of the fault-injection tests: a consumer group, worker processes, loss counting."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from dpp_shared.topics import TopicNamespace
from tests.consumer.harness import ReadRecord, WorkerProcess
from tests.fixtures.kafka import delete_groups

WorkerFactory = Callable[..., WorkerProcess]


@dataclass(frozen=True)
class Tally:
    """What a fault scenario lost and duplicated, against what it expected exactly once."""

    expected: int
    observed: int
    lost: int
    duplicated: int

    def report(self, scenario: str, **extra: object) -> str:
        details = " ".join(f"{name}={value}" for name, value in extra.items())
        line = (
            f"[fault:{scenario}] expected={self.expected} observed={self.observed} "
            f"lost={self.lost} duplicated={self.duplicated} {details}".rstrip()
        )
        print(line)
        return line


def tally(expected: Iterable[str], observed: Iterable[str]) -> Tally:
    wanted = set(expected)
    counts = Counter(observed)
    return Tally(
        expected=len(wanted),
        observed=sum(counts.values()),
        lost=len(wanted - set(counts)),
        duplicated=sum(count - 1 for count in counts.values() if count > 1),
    )


def completed_job_ids(records: list[ReadRecord]) -> list[str]:
    """Job ids of the job.completed.v1 records on the results topic."""
    return [
        json.loads(record.value or b"{}")["job_id"]
        for record in records
        if record.headers.get("ce_type") == "job.completed.v1"
    ]


@pytest.fixture
def group(unique_name: str, kafka_admin: AdminClient) -> Iterator[str]:
    """A consumer group for this test only; deleted at teardown."""
    yield unique_name
    delete_groups(kafka_admin, [unique_name])


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
def start_worker(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, group: str, tmp_path: Path
) -> Iterator[WorkerFactory]:
    """Start scripted-job worker processes (`tests/consumer/scripted_jobs.py`, the real
    `run_worker`) on this test's topics and group; every one is killed at teardown."""
    started: list[WorkerProcess] = []

    def start(database_url: str, **env: str) -> WorkerProcess:
        settings = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "DPP_TOPIC_PREFIX": topic_namespace.prefix,
            "DATABASE_URL": database_url,
            "DPP_CONSUMER_GROUP": group,
            "DPP_METRICS_PORT": "0",
            **env,
        }
        process = WorkerProcess(settings, tmp_path / f"worker-{len(started)}.log")
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.kill()
