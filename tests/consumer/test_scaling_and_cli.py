"""Group changes while jobs run, and `dpp consumer run` with its metrics endpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dpp_ops.ports import free_port
from dpp_shared.topics import RESULTS_TOPIC, TopicNamespace
from dpp_store import JobStatus, JobStore
from tests.consumer.harness import REPO, produce_echo, read_topic, running_worker
from tests.consumer.scripted_jobs import scripted_jobs
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def all_succeeded(store: JobStore, ids: list[str]) -> bool:
    return all((r := store.get(i)) is not None and r.status == JobStatus.SUCCEEDED for i in ids)


def test_a_worker_joining_mid_stream_takes_partitions_without_loss_or_duplicates(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, store: JobStore, group: str
) -> None:
    options: dict[str, Any] = {
        "bootstrap": kafka_bootstrap,
        "namespace": topic_namespace,
        "store": store,
        "registry": scripted_jobs(),
        "consumer_group": group,
        "worker_concurrency": 2,
        "revoke_grace_s": 0.2,
    }
    ids: list[str] = []
    with running_worker(**options) as first:
        for session in range(12):  # spread over the topic's partitions
            ids += produce_echo(
                kafka_bootstrap, topic_namespace, ["sleep:0.3"] * 3, session_id=f"s{session}"
            )
        with running_worker(**options) as second:
            wait_until(lambda: all_succeeded(store, ids), 90, "every job")
            assert first.worker.stats.revocations >= 1
            assert second.worker.stats.assignments >= 1
    results = read_topic(
        kafka_bootstrap,
        topic_namespace.physical(RESULTS_TOPIC),
        until=lambda records: len(records) >= len(ids),
        settle_s=1.0,
    )
    announced = Counter(json.loads(r.value or b"{}")["job_id"] for r in results)
    assert announced == Counter(ids)


def test_dpp_consumer_run_processes_jobs_serves_metrics_and_drains_on_sigterm(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    database_url: str,
    group: str,
    tmp_path: Path,
) -> None:
    port = free_port()
    log = tmp_path / "cli.log"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DPP_TOPIC_PREFIX": topic_namespace.prefix,
        "DATABASE_URL": database_url,
        "DPP_METRICS_HOST": "127.0.0.1",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "dpp_cli.main", "consumer", "run", "--group", group,
             "--concurrency", "2", "--metrics-port", str(port),
             "--job-type", "demo.echo.requested.v1"],
            env=env, cwd=REPO, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until(lambda: "partitions assigned" in log.read_text(), 60, "the assignment")
            text = log.read_text()
            assert "subscribed to:" in text and f"{topic_namespace.prefix}dpp.demo.echo" in text
            assert "dpp.persona.embedding" not in text.split("subscribed to:")[1]
            ids = produce_echo(kafka_bootstrap, topic_namespace, ["one", "two", "three"])
            wait_until(lambda: all_succeeded(store, ids), 30, "the echo jobs")

            def scraped() -> str:
                url = f"http://127.0.0.1:{port}/metrics"
                with urllib.request.urlopen(url, timeout=5) as response:
                    return str(response.read().decode())

            wait_until(
                lambda: 'dpp_jobs_processed_total{job_type="echo"} 3.0' in scraped(),
                15,
                "the processed counter",
            )
            metrics = scraped()
            assert 'dpp_job_duration_seconds_count{job_type="echo"} 3.0' in metrics
            assert 'dpp_jobs_in_flight{job_type="echo"} 0.0' in metrics
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
        finally:
            process.kill()
            process.wait(10)
    assert '"message":"drained"' in log.read_text()
