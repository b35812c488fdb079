"""The worker against the real broker and database: commits, crashes, long jobs, drains."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import pytest

from dpp_consumer.context import JobContext
from dpp_consumer.jobs.echo import EchoResult
from dpp_consumer.jobs.registry import JobRegistry
from dpp_shared.events.payloads import DemoEchoRequestedV1
from dpp_shared.topics import DEMO_TOPIC, RESULTS_TOPIC, TopicNamespace
from dpp_store import JobStatus, JobStore
from tests.consumer.conftest import WorkerFactory
from tests.consumer.harness import (
    ReadRecord,
    committed_offsets,
    produce_echo,
    read_topic,
    running_worker,
)
from tests.consumer.scripted_jobs import ECHO, scripted_jobs
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def status_of(store: JobStore, job_id: str) -> JobStatus | None:
    record = store.get(job_id)
    return None if record is None else record.status


def completions(records: list[ReadRecord]) -> list[str]:
    return [
        json.loads(record.value or b"{}")["job_id"]
        for record in records
        if record.headers.get("ce_type") == "job.completed.v1"
    ]


def test_offsets_are_committed_only_after_the_outcome_is_durable(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, store: JobStore, group: str
) -> None:
    gate = threading.Event()
    registry = JobRegistry()

    @registry.job(ECHO, result=EchoResult, job_type="gated")
    def gated(ctx: JobContext[DemoEchoRequestedV1]) -> EchoResult:
        assert gate.wait(30)
        return EchoResult(session_id=ctx.payload.session_id, message=ctx.payload.message)

    topic = topic_namespace.physical(DEMO_TOPIC)
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=registry,
        consumer_group=group,
        commit_interval_ms=50,
    ) as running:
        [job_id] = produce_echo(kafka_bootstrap, topic_namespace, ["held"])
        wait_until(lambda: status_of(store, job_id) == JobStatus.RUNNING, 30, "job running")
        checks = running.worker.stats.commit_checks
        wait_until(lambda: running.worker.stats.commit_checks >= checks + 5, 10, "commit ticks")
        assert committed_offsets(kafka_bootstrap, group, topic) == {}

        gate.set()
        wait_until(lambda: status_of(store, job_id) == JobStatus.SUCCEEDED, 30, "job succeeded")
        record = store.get(job_id)
        assert record is not None and record.source_offset == 0
        partition = record.source_partition
        assert partition is not None
        wait_until(
            lambda: committed_offsets(kafka_bootstrap, group, topic) == {partition: 1},
            15,
            "the commit after the durable outcome",
        )
    results = read_topic(
        kafka_bootstrap,
        topic_namespace.physical(RESULTS_TOPIC),
        until=lambda records: len(records) >= 1,
    )
    assert completions(results) == [job_id]


def test_sigkill_mid_job_loses_nothing_and_duplicates_no_result(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    worker_process: WorkerFactory,
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs.txt"
    fast = [f"fast-{index}" for index in range(5)]
    settings = {"DPP_SESSION_TIMEOUT_MS": "6000", "DPP_COMMIT_INTERVAL_MS": "100"}
    first = worker_process(**settings)
    first.wait_for_log("partitions assigned")
    ids = produce_echo(kafka_bootstrap, topic_namespace, [f"count:{runs}:4", *fast])
    slow_id, fast_ids = ids[0], ids[1:]
    wait_until(lambda: runs.exists() and runs.read_text().strip(), 30, "the slow job to start")
    wait_until(
        lambda: all(status_of(store, i) == JobStatus.SUCCEEDED for i in fast_ids), 30, "fast jobs"
    )
    first.signal(signal.SIGKILL)
    first.wait(10)
    assert status_of(store, slow_id) == JobStatus.RUNNING

    second = worker_process(**settings)
    wait_until(lambda: status_of(store, slow_id) == JobStatus.SUCCEEDED, 60, "the takeover")
    results = read_topic(
        kafka_bootstrap,
        topic_namespace.physical(RESULTS_TOPIC),
        until=lambda records: set(completions(records)) >= set(ids),
        settle_s=1.0,
    )
    assert sorted(completions(results)) == sorted(ids), "exactly one result per job"
    assert [line.split()[0] for line in runs.read_text().splitlines()] == [slow_id, slow_id]
    record = store.get(slow_id)
    assert record is not None and record.attempts == 2
    second.signal(signal.SIGTERM)
    assert second.wait(30) == 0


def test_a_job_longer_than_max_poll_interval_completes_without_a_rebalance(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, store: JobStore, group: str
) -> None:
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=scripted_jobs(),
        consumer_group=group,
        max_poll_interval_ms=6_000,
        session_timeout_ms=6_000,
    ) as running:
        [job_id] = produce_echo(kafka_bootstrap, topic_namespace, ["sleep:9"])
        wait_until(lambda: status_of(store, job_id) == JobStatus.SUCCEEDED, 40, "the long job")
        stats = running.worker.stats
        assert (stats.assignments, stats.revocations, stats.losses) == (1, 0, 0)
    record = store.get(job_id)
    assert record is not None and record.attempts == 1
    results = read_topic(
        kafka_bootstrap,
        topic_namespace.physical(RESULTS_TOPIC),
        until=lambda records: len(records) >= 1,
        settle_s=0.5,
    )
    assert completions(results) == [job_id]


def test_sigterm_drains_in_flight_jobs_then_commits_and_exits(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    worker_process: WorkerFactory,
    group: str,
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs.txt"
    worker = worker_process(DPP_DRAIN_TIMEOUT_S="30")
    worker.wait_for_log("partitions assigned")
    [job_id] = produce_echo(kafka_bootstrap, topic_namespace, [f"count:{runs}:2"])
    wait_until(lambda: runs.exists() and runs.read_text().strip(), 30, "the job to start")
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert "drained" in worker.log()
    assert status_of(store, job_id) == JobStatus.SUCCEEDED
    record = store.get(job_id)
    assert record is not None and record.source_partition is not None
    topic = topic_namespace.physical(DEMO_TOPIC)
    assert committed_offsets(kafka_bootstrap, group, topic) == {record.source_partition: 1}


def test_a_job_past_the_drain_deadline_is_left_uncommitted_and_redelivered(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    worker_process: WorkerFactory,
    group: str,
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs.txt"
    first = worker_process(DPP_DRAIN_TIMEOUT_S="0.5")
    first.wait_for_log("partitions assigned")
    [job_id] = produce_echo(kafka_bootstrap, topic_namespace, [f"count:{runs}:3"])
    wait_until(lambda: runs.exists() and runs.read_text().strip(), 30, "the job to start")
    first.signal(signal.SIGTERM)
    assert first.wait(30) == 0
    assert "drain deadline passed" in first.log()
    assert status_of(store, job_id) == JobStatus.RUNNING
    topic = topic_namespace.physical(DEMO_TOPIC)
    assert committed_offsets(kafka_bootstrap, group, topic) == {}

    second = worker_process()
    wait_until(lambda: status_of(store, job_id) == JobStatus.SUCCEEDED, 60, "the redelivery")
    assert len(runs.read_text().splitlines()) == 2
    second.signal(signal.SIGTERM)
    assert second.wait(30) == 0
