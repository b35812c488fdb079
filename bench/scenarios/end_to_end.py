"""End to end: POST /v1/events answered 202 -> the worker marks the job started, p50/p99, at a
moderate steady rate (open loop), with the producer API and one worker (SQLite job store)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing, suppress
from pathlib import Path

from bench.broker import delete_groups, fresh_namespace
from bench.context import BenchContext
from bench.results import ScenarioResult
from bench.scenarios.ingest_single import open_loop
from bench.server import REPO, producer_server
from bench.stats import latency_summary
from bench.workload import single_body
from dpp_store import JobStore


def _started_jobs(database: Path) -> int:
    with closing(sqlite3.connect(database)) as connection:
        row = connection.execute("SELECT count(*) FROM jobs WHERE started_at IS NOT NULL")
        return int(row.fetchone()[0])


def run(ctx: BenchContext) -> ScenarioResult:
    rate = ctx.pick(20.0, 200.0)
    duration_s = ctx.pick(2.0, 20.0)
    result = ScenarioResult(
        "end-to-end",
        "4. End to end: POST accepted -> job started",
        ctx.command("end-to-end"),
        {
            "rate_per_s": rate,
            "duration_s": duration_s,
            "job": "demo.echo",
            "worker": "python -m dpp_consumer, SQLite job store, default settings",
            "api": "uvicorn, 1 worker process, auth on",
            "measure": "job's started_at (job store) minus the client's clock at the 202",
        },
    )
    database_path = ctx.work_dir / "end-to-end.db"
    database_url = f"sqlite:///{database_path}"
    store = JobStore.from_url(database_url)
    store.migrate()
    group = f"bench-e2e-{uuid.uuid4().hex[:8]}"
    body_path = ctx.work_dir / "e2e.json"
    body_path.write_bytes(single_body())
    with (
        fresh_namespace(ctx.bootstrap) as namespace,
        producer_server(ctx.bootstrap, namespace.prefix, database_url=database_url) as server,
    ):
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": ctx.bootstrap,
            "DPP_TOPIC_PREFIX": namespace.prefix,
            "DPP_CONSUMER_GROUP": group,
            "DATABASE_URL": database_url,
            "DPP_METRICS_PORT": "0",
        }
        with (ctx.work_dir / "e2e-worker.log").open("ab") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "dpp_consumer"], env=env, cwd=REPO,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            # The warm-up events of the server are the worker's warm-up: wait for them.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and _started_jobs(database_path) == 0:
                time.sleep(0.1)
            measured = open_loop(
                server, body_path, rate=rate, duration_s=duration_s, fresh_ids=True
            )
            accepted = [(str(job_id), float(at)) for job_id, at in measured["accepted"]]
            latencies: list[float] = []
            missing = len(accepted)
            deadline = time.monotonic() + 60
            while missing and time.monotonic() < deadline:
                latencies, missing = [], 0
                for job_id, accepted_at in accepted:
                    record = store.get(job_id)
                    if record is None or record.started_at is None:
                        missing += 1
                        continue
                    latencies.append(record.started_at.timestamp() - accepted_at)
                if missing:
                    time.sleep(0.2)
        finally:
            with suppress(ProcessLookupError):
                worker.send_signal(signal.SIGTERM)
            worker.wait(30)
            store.close()
            delete_groups(ctx.bootstrap, [group])
    summary = latency_summary(latencies)
    result.add(
        f"{rate:g} events/s for {duration_s:g} s",
        accepted=len(accepted),
        started=len(latencies),
        not_started=missing,
        p50_ms=summary["p50_ms"],
        p99_ms=summary["p99_ms"],
        max_ms=summary["max_ms"],
    )
    result.notes.append(
        "started_at is the job store's clock when the worker's batched bookkeeping (begin_many) "
        "marks the job running; both clocks are this machine's."
    )
    return result
