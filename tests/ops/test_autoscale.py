"""`dpp consumer autoscale` on the real broker: 1 -> N workers under lag, back to the minimum
after the cooldown, and every job succeeded exactly once across the scale events."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from dpp_ops.autoscale.supervisor import read_status_file
from dpp_ops.ports import free_port
from dpp_shared.topics import DEAD_LETTER_TOPIC, RESULTS_TOPIC, TopicNamespace
from dpp_store import JobStatus, JobStore
from tests.ops.support import produce_echo_jobs, read_all
from tests.waiting import wait_until

JOBS = 600
MAX_WORKERS = 3


def scrape(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return ""


@pytest.mark.slow
def test_autoscaler_follows_the_lag_without_losing_or_duplicating_jobs(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, group: str, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'jobs.db'}"
    JobStore.from_url(database_url).migrate()
    ids = produce_echo_jobs(kafka_bootstrap, topic_namespace, JOBS)
    status_file = tmp_path / "autoscale.json"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DPP_TOPIC_PREFIX": topic_namespace.prefix,
        "DATABASE_URL": database_url,
        "DPP_CONSUMER_GROUP": group,
        "DPP_JOB_TYPES": "demo.echo.requested.v1",
        "DPP_WORKER_CONCURRENCY": "2",
        "DPP_DRAIN_TIMEOUT_S": "10",
        "DPP_AUTOSCALE_LAG_THRESHOLD": "50",
        "DPP_AUTOSCALE_MIN_WORKERS": "1",
        "DPP_AUTOSCALE_MAX_WORKERS": str(MAX_WORKERS),
        "DPP_AUTOSCALE_SCALE_UP_STABILIZATION_S": "0",
        "DPP_AUTOSCALE_SCALE_DOWN_STABILIZATION_S": "4",
        "DPP_AUTOSCALE_COOLDOWN_S": "4",
        "DPP_AUTOSCALE_POLLING_INTERVAL_S": "1",
    }
    log_file = tmp_path / "autoscale.log"
    metrics_port = free_port()
    command = [
        sys.executable, "-m", "dpp_cli.main", "consumer", "autoscale", "--interval", "0.5",
        "--status-file", str(status_file), "--log-dir", str(tmp_path / "workers"),
        "--metrics-port", str(metrics_port),
    ]  # fmt: skip
    seen: list[int] = []

    def workers() -> int:
        status = read_status_file(status_file)
        if status is None:
            return -1
        if not seen or seen[-1] != status.workers:
            seen.append(status.workers)
        return status.workers

    with log_file.open("wb") as log:
        supervisor = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: workers() == MAX_WORKERS, 120, f"{MAX_WORKERS} workers", every_s=0.1)
        gauge = f'dpp_autoscale_workers{{group="{group}"}} {MAX_WORKERS}.0'
        wait_until(lambda: gauge in scrape(metrics_port), 10, "the worker count on /metrics")
        store = JobStore.from_url(database_url)

        def all_succeeded() -> bool:
            return all(
                (job := store.get(i)) is not None and job.status == JobStatus.SUCCEEDED for i in ids
            )

        wait_until(all_succeeded, 180, f"{JOBS} jobs to succeed", every_s=0.5)
        wait_until(
            lambda: workers() == 1 and (s := read_status_file(status_file)) and s.draining == 0,
            120, "scale back to the minimum after the cooldown", every_s=0.1,
        )  # fmt: skip
    finally:
        supervisor.send_signal(signal.SIGTERM)
        code = supervisor.wait(90)
    log_text = log_file.read_text()
    assert code == 0, log_text[-3000:]

    # Grew from the minimum to N while lag was high, then back to the minimum once drained.
    assert max(seen) == MAX_WORKERS and seen[-1] == 1, seen
    assert "started 1 worker(s) (min_workers)" in log_text
    assert f"scale up 1 -> {MAX_WORKERS} workers: total lag" in log_text, log_text[-3000:]
    # Down once the lag is gone, to the minimum: in one decision, or in steps when the
    # stabilisation window still holds a higher recommendation (3 -> 2 -> 1).
    downs = [
        (int(a), int(b)) for a, b in re.findall(r"scale down (\d+) -> (\d+) workers", log_text)
    ]
    lag_free = re.findall(r"scale down \d+ -> \d+ workers: total lag 0 ", log_text)
    assert downs and len(lag_free) == len(downs), log_text[-3000:]
    assert downs[0][0] == MAX_WORKERS and downs[-1][1] == 1, downs
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(downs)), downs
    stopped = read_status_file(status_file)
    assert stopped is not None and stopped.workers == 0 and stopped.reason == "stopped"

    # Every job succeeded exactly once: one terminal record each and one completion event each.
    jobs = [store.get(i) for i in ids]
    assert all(job is not None and job.status == JobStatus.SUCCEEDED for job in jobs)
    results = read_all(kafka_bootstrap, topic_namespace.physical(RESULTS_TOPIC), 6)
    completed: Counter[str] = Counter()
    for record in results:
        headers = dict(record.headers() or [])  # type: ignore[attr-defined]
        if headers.get("ce_type") == b"job.completed.v1":
            completed[json.loads(record.value())["job_id"]] += 1  # type: ignore[attr-defined]
    assert set(completed) == set(ids)
    duplicates = {job_id: n for job_id, n in completed.items() if n > 1}
    assert not duplicates, f"{len(duplicates)} jobs completed more than once"
    assert read_all(kafka_bootstrap, topic_namespace.physical(DEAD_LETTER_TOPIC), 1) == []
    store.close()
