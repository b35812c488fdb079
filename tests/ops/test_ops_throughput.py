"""The ops page's throughput panel agrees with the job store after a real worker ran jobs, at
once: it is read from the store when asked, not only when a lag sample completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dpp_ops.exporters import LagMonitor, LagSampler, WatchTarget
from dpp_ops.lag import LagHistory, LagReader
from dpp_ops.page import OpsService, OpsSettings
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from dpp_store import JobStatus, JobStore
from dpp_store.engine import create_store_engine
from dpp_store.schema import jobs_table
from tests.ops.support import produce_echo_jobs
from tests.waiting import wait_until

JOBS = 40


def test_throughput_counts_every_job_the_worker_finished(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, group: str, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'jobs.db'}"
    JobStore.from_url(database_url).migrate()
    # The ops service opens the store before any job exists, as `dpp up` does.
    topic = topic_namespace.physical(DEMO_TOPIC)
    monitor = LagMonitor(LagReader(kafka_bootstrap), [WatchTarget(group, (topic,))], LagHistory())
    settings = OpsSettings(interval_s=0.5, throughput_bucket_s=10, throughput_buckets=30)
    engine = create_store_engine(database_url)
    service = OpsService(LagSampler(monitor, settings.interval_s), settings, store=engine)
    service.sampler.sample_once()
    first = service.overview()
    assert sum(b["succeeded"] for b in first["throughput"]["buckets"]) == 0

    ids = produce_echo_jobs(kafka_bootstrap, topic_namespace, JOBS)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DPP_TOPIC_PREFIX": topic_namespace.prefix,
        "DATABASE_URL": database_url,
        "DPP_CONSUMER_GROUP": group,
        "DPP_JOB_TYPES": "demo.echo.requested.v1",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "dpp_consumer"], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    store = JobStore.from_url(database_url)
    try:
        wait_until(
            lambda: all((j := store.get(i)) and j.status == JobStatus.SUCCEEDED for i in ids),
            90, f"{JOBS} jobs to succeed", every_s=0.3,
        )  # fmt: skip
        # No lag sample since the jobs ran: the sample is the one from before them...
        assert service.overview()["seq"] == first["seq"]

        # ...and still the panel counts every job (within its 1 s read cache).
        def panel_total() -> dict[str, Any] | None:
            view = service.overview()["throughput"]
            return view if sum(b["succeeded"] for b in view["buckets"]) == JOBS else None

        panel = wait_until(panel_total, 5, "the panel to count every job", every_s=0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        store.close()
        service.stop()
    window_start = datetime.now(UTC) - timedelta(seconds=300)
    with create_store_engine(database_url).connect() as connection:
        in_store = connection.execute(
            select(func.count()).where(
                jobs_table.c.status == JobStatus.SUCCEEDED.value,
                jobs_table.c.finished_at >= window_start,
            )
        ).scalar_one()
    assert "error" not in panel, panel
    assert in_store == JOBS, log.read_text()[-2000:]
    assert sum(b["succeeded"] for b in panel["buckets"]) == JOBS, panel
