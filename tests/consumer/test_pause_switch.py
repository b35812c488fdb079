"""Workers honour the operators' pause switch on `dpp.control` (real broker and database): a
paused job type's records wait on Kafka while other job types run, and each runs exactly once
with one result after the resume; also for a worker started while the switch is already on, and
for partitions a worker takes over in a rebalance after the pause."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from confluent_kafka.admin import AdminClient
from pydantic import BaseModel

from dpp_consumer.context import JobContext
from dpp_consumer.jobs.echo import EchoResult
from dpp_consumer.jobs.registry import JobRegistry
from dpp_consumer.pauses import PauseFollower, WorkerPauses
from dpp_ops.control import ControlTopic
from dpp_ops.topic_admin import delete_topics
from dpp_shared.control import CONTROL_TOPIC
from dpp_shared.events.payloads import DemoEchoRequestedV1, PersonaToneClassificationRequestedV1
from dpp_shared.topics import CLASSIFICATION_TOPIC, RESULTS_TOPIC, TopicNamespace
from dpp_store import JobStatus, JobStore
from tests.consumer.harness import (
    ReadRecord,
    committed_offsets,
    produce_echo,
    produce_events,
    read_topic,
    running_worker,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ECHO = "demo.echo.requested.v1"
TONE = "persona.tone.classification.requested.v1"


class Seen(BaseModel):
    persona_id: str


class Runs:
    """Every handler run, by job type: what a test asserts "never started" and "ran once" on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ids: dict[str, list[str]] = {"echo": [], "tone": []}

    def add(self, job_type: str, job_id: str) -> None:
        with self._lock:
            self.ids[job_type].append(job_id)

    def of(self, job_type: str) -> list[str]:
        with self._lock:
            return list(self.ids[job_type])


def counting_jobs(runs: Runs, gate: threading.Event | None = None) -> JobRegistry:
    """echo (batchable: the inline fast path) on the demo topic, tone on its own topic; a tone
    job of persona ``p-gate`` waits for ``gate``."""
    registry = JobRegistry()

    @registry.job(ECHO, result=EchoResult, job_type="echo", batchable=True)
    def echo(ctx: JobContext[DemoEchoRequestedV1]) -> EchoResult:
        runs.add("echo", ctx.job_id)
        return EchoResult(session_id=ctx.payload.session_id, message=ctx.payload.message)

    @registry.job(TONE, result=Seen, job_type="tone")
    def tone(ctx: JobContext[PersonaToneClassificationRequestedV1]) -> Seen:
        runs.add("tone", ctx.job_id)
        if ctx.payload.persona_id == "p-gate" and gate is not None:
            assert gate.wait(30)
        return Seen(persona_id=ctx.payload.persona_id)

    return registry


@pytest.fixture
def control(
    kafka_bootstrap: str, kafka_admin: AdminClient, topic_namespace: TopicNamespace
) -> Iterator[ControlTopic]:
    """The writer `dpp ops pause` and the page use; the control topic is deleted at teardown."""
    yield ControlTopic({"bootstrap.servers": kafka_bootstrap}, topic_namespace)
    delete_topics(kafka_admin, [topic_namespace.physical(CONTROL_TOPIC)])


def publish(bootstrap: str, namespace: TopicNamespace, count: int) -> tuple[list[str], list[str]]:
    """``count`` echo jobs over several keys (so several partitions) and ``count`` tone jobs."""
    echo_ids: list[str] = []
    for index in range(count):
        echo_ids += produce_echo(bootstrap, namespace, [f"m-{index}"], session_id=f"s-{index}")
    tone_payloads = [{"persona_id": f"p-{index}", "texts": ["hi"]} for index in range(count)]
    return echo_ids, produce_events(bootstrap, namespace, TONE, tone_payloads)


def succeeded(store: JobStore, ids: list[str]) -> bool:
    records = [store.get(job_id) for job_id in ids]
    return all(r is not None and r.status == JobStatus.SUCCEEDED for r in records)


def assert_once_each(bootstrap: str, namespace: TopicNamespace, runs: Runs, ids: list[str]) -> None:
    """Each job ran once and published one `job.completed.v1` (read after a settle time, so a
    duplicate would show)."""

    def completions(records: list[ReadRecord]) -> list[str]:
        return [
            json.loads(r.value or b"{}")["job_id"]
            for r in records
            if r.headers.get("ce_type") == "job.completed.v1"
        ]

    results = read_topic(
        bootstrap,
        namespace.physical(RESULTS_TOPIC),
        until=lambda records: set(completions(records)) >= set(ids),
        settle_s=1.0,
    )
    assert sorted(completions(results)) == sorted(ids), "one result record per job"
    ran = Counter(runs.of("echo") + runs.of("tone"))
    assert sorted(ran) == sorted(ids) and set(ran.values()) == {1}, ran


def test_a_paused_job_type_waits_on_kafka_and_runs_exactly_once_after_the_resume(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    group: str,
    control: ControlTopic,
) -> None:
    runs = Runs()
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=counting_jobs(runs),
        consumer_group=group,
        commit_interval_ms=50,
    ) as running:
        worker = running.worker
        control.set_paused("echo", True, by="test-operator", reason="maintenance")
        wait_until(lambda: worker.paused_job_types == {"echo"}, 30, "the worker to see the pause")

        echo_ids, tone_ids = publish(kafka_bootstrap, topic_namespace, 12)
        wait_until(lambda: succeeded(store, tone_ids), 60, "the tone jobs (not paused)")
        assert runs.of("echo") == [], "no job of the paused type started"
        assert all(store.get(job_id) is None for job_id in echo_ids)

        control.set_paused("echo", False, by="test-operator")
        wait_until(lambda: succeeded(store, echo_ids), 60, "the echo jobs after the resume")
        assert worker.paused_job_types == frozenset()
    assert_once_each(kafka_bootstrap, topic_namespace, runs, echo_ids + tone_ids)


def test_a_job_running_when_its_type_is_paused_finishes_once_and_the_rest_wait(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    group: str,
    control: ControlTopic,
) -> None:
    runs, gate = Runs(), threading.Event()
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=counting_jobs(runs, gate),
        consumer_group=group,
        commit_interval_ms=50,
        worker_concurrency=1,  # the gated job holds the only job thread: the rest must wait
    ) as running:
        # One key, so one partition: four jobs wait behind the running one.
        payloads = [{"persona_id": "p-gate", "texts": [f"t-{i}"]} for i in range(5)]
        gated_id, *waiting_ids = produce_events(kafka_bootstrap, topic_namespace, TONE, payloads)
        wait_until(lambda: runs.of("tone") == [gated_id], 30, "the gated job to start")
        control.set_paused("tone", True, by="test-operator")
        wait_until(lambda: running.worker.paused_job_types == {"tone"}, 30, "the pause")

        gate.set()
        wait_until(lambda: succeeded(store, [gated_id]), 30, "the running job to finish")
        record = store.get(gated_id)
        assert record is not None
        partition, offset = record.source_partition, record.source_offset
        assert partition is not None and offset is not None
        topic = topic_namespace.physical(CLASSIFICATION_TOPIC)
        wait_until(
            lambda: committed_offsets(kafka_bootstrap, group, topic).get(partition) == offset + 1,
            30,
            "the finished job's offset committed while its type is paused",
        )
        assert runs.of("tone") == [gated_id], "nothing behind it started"

        control.set_paused("tone", False, by="test-operator")
        wait_until(lambda: succeeded(store, waiting_ids), 60, "the waiting jobs after the resume")
    assert_once_each(kafka_bootstrap, topic_namespace, runs, [gated_id, *waiting_ids])


def test_a_worker_started_while_the_switch_is_on_reads_it_before_its_first_job(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    group: str,
    control: ControlTopic,
) -> None:
    control.set_paused("echo", True, by="test-operator")
    control.set_paused("tone", True, by="test-operator")
    control.set_paused("tone", False, by="test-operator")  # compaction keeps the newest
    echo_ids, tone_ids = publish(kafka_bootstrap, topic_namespace, 8)
    runs = Runs()
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=counting_jobs(runs),
        consumer_group=group,
        commit_interval_ms=50,
    ) as running:
        assert running.worker.paused_job_types == {"echo"}
        wait_until(lambda: succeeded(store, tone_ids), 60, "the tone jobs (not paused)")
        assert runs.of("echo") == [], "no job of the paused type started"

        control.set_paused("echo", False, by="test-operator")
        wait_until(lambda: succeeded(store, echo_ids), 60, "the echo jobs after the resume")
    assert_once_each(kafka_bootstrap, topic_namespace, runs, echo_ids + tone_ids)


def test_partitions_taken_over_in_a_rebalance_after_the_pause_stay_paused(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    group: str,
    control: ControlTopic,
) -> None:
    runs = Runs()
    settings: dict[str, Any] = {
        "bootstrap": kafka_bootstrap,
        "namespace": topic_namespace,
        "store": store,
        "consumer_group": group,
        "commit_interval_ms": 50,
        "session_timeout_ms": 6000,
    }
    with running_worker(registry=counting_jobs(runs), **settings) as first:
        with running_worker(registry=counting_jobs(runs), **settings) as second:
            wait_until(
                lambda: first.worker.stats.revocations and second.worker.stats.assignments,
                30,
                "the group to split its partitions between the two workers",
            )
            control.set_paused("echo", True, by="test-operator")
            wait_until(
                lambda: first.worker.paused_job_types == second.worker.paused_job_types == {"echo"},
                30,
                "both workers to see the pause",
            )
            assignments = first.worker.stats.assignments
        # The second worker drained and left: the first takes its partitions over, paused.
        wait_until(
            lambda: first.worker.stats.assignments > assignments, 30, "the takeover rebalance"
        )
        echo_ids, tone_ids = publish(kafka_bootstrap, topic_namespace, 12)
        wait_until(lambda: succeeded(store, tone_ids), 60, "the tone jobs (not paused)")
        assert runs.of("echo") == [], "no job of the paused type started after the takeover"

        control.set_paused("echo", False, by="test-operator")
        wait_until(lambda: succeeded(store, echo_ids), 60, "the echo jobs after the resume")
    assert_once_each(kafka_bootstrap, topic_namespace, runs, echo_ids + tone_ids)


def test_job_types_sharing_a_topic_pause_together_and_the_log_says_so(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, control: ControlTopic
) -> None:
    shared, other = topic_namespace.physical("shared"), topic_namespace.physical("other")
    sink = io.StringIO()
    logger = Logger(service="pause-test", logger_handler=logging.StreamHandler(sink))
    follower = PauseFollower({"bootstrap.servers": kafka_bootstrap}, control.topic)
    pauses = WorkerPauses(follower, {"a": (shared,), "b": (shared, other)}, logger)
    try:
        assert pauses.start() is False and pauses.held == {}
        control.set_paused("a", True, by="test-operator")
        wait_until(pauses.poll, 30, "the pause of a")
        assert pauses.held == {shared: "job type a paused by test-operator"}
        assert "job types sharing its topics pause together: b" in sink.getvalue()

        control.set_paused("b", True, by="test-operator")
        wait_until(pauses.poll, 30, "the pause of b")
        assert set(pauses.held) == {shared, other}
        control.set_paused("a", False, by="test-operator")
        wait_until(lambda: pauses.poll() or pauses.paused_job_types == {"b"}, 30, "a resumed")
        assert set(pauses.held) == {shared, other}, "the shared topic stays held for b"
    finally:
        follower.close()
