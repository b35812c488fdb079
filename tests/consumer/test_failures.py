"""Retries, dead letters, poison records and replay, on the real broker and database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime
from typing import Any

import pytest

from dpp_consumer.context import JobContext
from dpp_consumer.errors import PermanentJobError
from dpp_consumer.jobs.echo import EchoResult
from dpp_consumer.jobs.registry import JobRegistry
from dpp_shared import headers as hdr
from dpp_shared.events.payloads import DemoEchoRequestedV1
from dpp_shared.topics import (
    DEAD_LETTER_TOPIC,
    DEMO_TOPIC,
    RESULTS_TOPIC,
    TopicNamespace,
    retry_topic_name,
)
from dpp_store import JobStatus, JobStore
from tests.consumer.harness import (
    REPO,
    produce_echo,
    produce_raw,
    read_topic,
    running_worker,
)
from tests.consumer.scripted_jobs import ECHO, scripted_jobs
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def metric(running_registry: Any, name: str, job_type: str) -> float:
    value = running_registry.get_sample_value(name, {"job_type": job_type})
    return 0.0 if value is None else float(value)


def test_retriable_failures_walk_the_retry_tiers_then_dead_letter_with_headers(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, store: JobStore, group: str
) -> None:
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=scripted_jobs(),
        consumer_group=group,
        max_attempts=3,
        retry_delays_s=(0.3, 0.6, 0.9),
    ) as running:
        [job_id] = produce_echo(
            kafka_bootstrap, topic_namespace, ["retriable"], correlation_id="corr-retry"
        )
        letters = read_topic(
            kafka_bootstrap,
            topic_namespace.physical(DEAD_LETTER_TOPIC),
            until=lambda records: len(records) >= 1,
        )
        wait_until(lambda: (r := store.get(job_id)) and r.status == JobStatus.DEAD, 15, "dead")
        registry = running.worker.metrics.registry
        assert metric(registry, "dpp_jobs_failed_total", "scripted") == 3
        assert metric(registry, "dpp_jobs_retried_total", "scripted") == 2
        assert metric(registry, "dpp_jobs_dead_lettered_total", "scripted") == 1

    main_topic = topic_namespace.physical(DEMO_TOPIC)
    [letter] = letters
    headers = letter.headers
    assert headers["ce_id"] == job_id
    assert headers[hdr.ATTEMPT] == "3"
    assert headers[hdr.ERROR_TYPE] == "RetriableJobError"
    assert headers[hdr.ERROR] == "transient trouble on attempt 3"
    assert headers[hdr.RETRIABLE] == "true"
    assert headers[hdr.ORIGINAL_TOPIC] == main_topic
    record = store.get(job_id)
    assert record is not None and record.attempts == 3
    assert headers[hdr.ORIGINAL_PARTITION] == str(record.source_partition)
    assert headers[hdr.ORIGINAL_OFFSET] == "0"
    assert hdr.NOT_BEFORE not in headers
    assert "RetriableJobError" in (record.error or "")

    tiers = []
    for tier, delay in ((1, 0.3), (2, 0.6)):
        [retried] = read_topic(
            kafka_bootstrap,
            topic_namespace.physical(retry_topic_name(DEMO_TOPIC, tier)),
            until=lambda records: len(records) >= 1,
        )
        failed_at = datetime.fromisoformat(retried.headers[hdr.FAILED_AT])
        not_before = datetime.fromisoformat(retried.headers[hdr.NOT_BEFORE])
        assert (not_before - failed_at).total_seconds() == pytest.approx(delay)
        assert retried.headers[hdr.ATTEMPT] == str(tier + 1)
        assert retried.headers[hdr.ORIGINAL_TOPIC] == main_topic
        tiers.append((failed_at, not_before))
    # Each later attempt started no earlier than its tier's not-before.
    assert tiers[1][0] >= tiers[0][1]
    assert datetime.fromisoformat(headers[hdr.FAILED_AT]) >= tiers[1][1]

    results = read_topic(
        kafka_bootstrap,
        topic_namespace.physical(RESULTS_TOPIC),
        until=lambda records: len(records) >= 1,
    )
    [failed] = results
    assert failed.headers["ce_type"] == "job.failed.v1"
    assert failed.headers["ce_correlationid"] == "corr-retry"
    assert json.loads(failed.value or b"{}")["attempts"] == 3


def test_permanent_errors_and_poison_records_go_straight_to_dead_letters_without_blocking(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, store: JobStore, group: str
) -> None:
    topic = topic_namespace.physical(DEMO_TOPIC)
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=scripted_jobs(),
        consumer_group=group,
        retry_delays_s=(0.3,),
    ):
        [permanent] = produce_echo(kafka_bootstrap, topic_namespace, ["permanent"])
        produce_raw(kafka_bootstrap, topic, b"\xff\xfe not json", [])
        produce_raw(
            kafka_bootstrap,
            topic,
            b'{"session_id": "s"}',
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"01900000-0000-7000-8000-00000000beef"),
                ("ce_source", b"/tests"),
                ("ce_type", b"demo.echo.requested.v1"),
                ("ce_time", b"2026-01-01T00:00:00Z"),
            ],
        )
        produce_raw(
            kafka_bootstrap,
            topic,
            b"{}",
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"x-1"),
                ("ce_source", b"/tests"),
                ("ce_type", b"no.such.type.v1"),
                ("ce_time", b"2026-01-01T00:00:00Z"),
            ],
        )
        [after] = produce_echo(kafka_bootstrap, topic_namespace, ["still flowing"])
        wait_until(
            lambda: (r := store.get(after)) and r.status == JobStatus.SUCCEEDED, 30, "later job"
        )
        letters = read_topic(
            kafka_bootstrap,
            topic_namespace.physical(DEAD_LETTER_TOPIC),
            until=lambda records: len(records) >= 4,
        )

    by_error = {letter.headers.get("ce_id", "none"): letter.headers for letter in letters}
    assert by_error[permanent][hdr.ERROR_TYPE] == "PermanentJobError"
    assert by_error[permanent][hdr.ATTEMPT] == "1"
    assert by_error[permanent][hdr.RETRIABLE] == "false"
    assert by_error["none"][hdr.ERROR_TYPE] == "EventDecodeError"
    schema_error = by_error["01900000-0000-7000-8000-00000000beef"]
    assert schema_error[hdr.ERROR_TYPE] == "EventDecodeError"
    assert "message" in schema_error[hdr.ERROR]
    assert "unknown event type" in by_error["x-1"][hdr.ERROR]
    assert all(letter.headers[hdr.ORIGINAL_TOPIC] == topic for letter in letters)
    record = store.get(permanent)
    assert record is not None and record.status == JobStatus.DEAD and record.attempts == 1
    # A schema error of a known job type is recorded too, so the job API can explain it.
    invalid = store.get("01900000-0000-7000-8000-00000000beef")
    assert invalid is not None and invalid.status == JobStatus.DEAD


def test_poison_records_inside_a_batch_of_fast_jobs_are_dead_lettered_alone(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, store: JobStore, group: str
) -> None:
    """Everything is on the partition before the worker starts, so the poison records arrive in
    the same consume() and unit as their neighbours (decoded together): only they fail."""
    topic = topic_namespace.physical(DEMO_TOPIC)
    schema_error_id = "01900000-0000-7000-8000-0000000ba7c4"
    before = produce_echo(kafka_bootstrap, topic_namespace, [f"b-{i}" for i in range(5)],
                          session_id="raw")  # fmt: skip
    produce_raw(
        kafka_bootstrap,
        topic,
        b'{"session_id": "raw"}',
        [
            ("ce_specversion", b"1.0"),
            ("ce_id", schema_error_id.encode()),
            ("ce_source", b"/tests"),
            ("ce_type", b"demo.echo.requested.v1"),
            ("ce_time", b"2026-01-01T00:00:00Z"),
        ],
    )
    produce_raw(kafka_bootstrap, topic, b"\xff\xfe not json", [])
    after = produce_echo(kafka_bootstrap, topic_namespace, [f"a-{i}" for i in range(5)],
                         session_id="raw")  # fmt: skip
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=scripted_jobs(batchable=True),
        consumer_group=group,
    ):
        letters = read_topic(
            kafka_bootstrap,
            topic_namespace.physical(DEAD_LETTER_TOPIC),
            until=lambda records: len(records) >= 2,
        )
        results = read_topic(
            kafka_bootstrap,
            topic_namespace.physical(RESULTS_TOPIC),
            until=lambda records: len(records) >= 11,
            settle_s=1.0,  # a duplicate announcement would show
        )

    for job_id in before + after:
        record = store.get(job_id)
        assert record is not None and record.status == JobStatus.SUCCEEDED, job_id
    assert sorted(letter.headers.get("ce_id", "none") for letter in letters) == sorted(
        [schema_error_id, "none"]
    )
    assert all(letter.headers[hdr.ERROR_TYPE] == "EventDecodeError" for letter in letters)
    completed = [
        r.headers["ce_subject"] for r in results if r.headers["ce_type"] == "job.completed.v1"
    ]
    failed = [r.headers["ce_subject"] for r in results if r.headers["ce_type"] == "job.failed.v1"]
    assert sorted(completed) == sorted(before + after)
    assert failed == [schema_error_id]
    invalid = store.get(schema_error_id)
    assert invalid is not None and invalid.status == JobStatus.DEAD


def dpp(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dpp_cli.main", *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dlq_list_show_and_replay_with_dry_run(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, store: JobStore, group: str
) -> None:
    fixed = threading.Event()
    registry = JobRegistry()

    @registry.job(ECHO, result=EchoResult, job_type="flaky-until-fixed")
    def until_fixed(ctx: JobContext[DemoEchoRequestedV1]) -> EchoResult:
        if not fixed.is_set():
            raise PermanentJobError("bad model version")
        return EchoResult(session_id=ctx.payload.session_id, message=ctx.payload.message)

    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DPP_TOPIC_PREFIX": topic_namespace.prefix}
    dead_letters = topic_namespace.physical(DEAD_LETTER_TOPIC)
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=registry,
        consumer_group=group,
    ):
        [job_id] = produce_echo(
            kafka_bootstrap, topic_namespace, ["hello"], correlation_id="corr-replay"
        )
        read_topic(kafka_bootstrap, dead_letters, until=lambda records: len(records) >= 1)

        listed = dpp("dlq", "list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        [summary] = json.loads(listed.stdout)
        assert summary["job_id"] == job_id
        assert summary["error_type"] == "PermanentJobError"
        table = dpp("dlq", "list", env=env)
        assert summary["id"] in table.stdout and "PermanentJobError" in table.stdout

        shown = dpp("dlq", "show", job_id, env=env)
        assert shown.returncode == 0, shown.stderr
        detail = json.loads(shown.stdout)
        assert detail["value"] == {"session_id": "s-1", "message": "hello"}
        assert detail["headers"]["dpp-error"] == "bad model version"
        assert dpp("dlq", "show", "0:999", env=env).returncode != 0

        dry = dpp("dlq", "replay", "--id", summary["id"], "--dry-run", "--json", env=env)
        assert dry.returncode == 0, dry.stderr
        [plan] = json.loads(dry.stdout)
        assert plan["topic"] == topic_namespace.physical(DEMO_TOPIC) and plan["skipped"] is None
        assert store.get(plan["new_job_id"]) is None  # nothing was sent

        fixed.set()
        done = dpp("dlq", "replay", "--id", summary["id"], "--json", env=env)
        assert done.returncode == 0, done.stderr
        [replayed] = json.loads(done.stdout)
        new_job = replayed["new_job_id"]
        assert new_job != job_id
        wait_until(
            lambda: (r := store.get(new_job)) and r.status == JobStatus.SUCCEEDED, 30, "replay"
        )
    record = store.get(new_job)
    assert record is not None and record.correlation_id == "corr-replay"
    old = store.get(job_id)
    assert old is not None and old.status == JobStatus.DEAD
    assert dpp("dlq", "replay", env=env).returncode != 0  # neither --id nor --all
