"""Consume: events/s of the dpp worker (no-op echo job) vs a raw confluent-kafka loop with the
same commit semantics and vs FastStream; then jobs/s with the durable job store (SQLite,
PostgreSQL). Each consumer is its own process; progress is read from the group's commits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from bench.broker import delete_groups, fresh_namespace
from bench.context import BenchContext
from bench.results import ScenarioResult, Target
from bench.server import REPO
from bench.workload import ECHO_TYPE, EVENT_BYTES, echo_records, fill_topic
from dpp_shared.events import REGISTRY
from dpp_shared.topics import TopicNamespace

TARGET_RAW_RATIO = 0.25
TARGET_FASTSTREAM_FACTOR = 10.0
TARGET_SQLITE_JOBS_S = 10_000.0
TARGET_POSTGRES_JOBS_S = 5_000.0


@dataclass(frozen=True)
class Drain:
    """How fast one consumer committed a backlog of `total` records."""

    total: int
    committed: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.committed / self.seconds if self.seconds > 0 else 0.0


def _committed(probe: Consumer, partitions: list[TopicPartition]) -> int:
    return sum(max(tp.offset, 0) for tp in probe.committed(partitions, timeout=10))


def drain_backlog(
    bootstrap: str,
    *,
    group: str,
    topic: str,
    total: int,
    command: list[str],
    env: dict[str, str],
    log_path: Path,
    timeout_s: float,
) -> Drain:
    """Start `command` and time its group's commits from the first one to `total` (so group
    join and start-up are left out); the process is stopped afterwards."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    partitions = [
        TopicPartition(topic, p)
        for p in probe.list_topics(topic, timeout=10).topics[topic].partitions
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, env={**os.environ, **env, "PYTHONPATH": str(REPO)},
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
    started = time.monotonic()
    try:
        deadline = started + timeout_s
        first: tuple[float, int] | None = None
        last = (time.monotonic(), 0)
        while time.monotonic() < deadline:
            committed = _committed(probe, partitions)
            now = time.monotonic()
            if committed > 0 and first is None:
                first = (now, committed)
            last = (now, committed)
            if committed >= total:
                break
            if process.poll() is not None and process.returncode != 0:
                raise RuntimeError(f"consumer exited {process.returncode}: {log_path}")
            time.sleep(0.05)
        if first is None:
            raise RuntimeError(f"nothing committed within {timeout_s}s: {log_path}")
        if last[1] == first[1]:
            # All of it committed at once (a tiny backlog): count start-up in, a lower bound.
            return Drain(total, last[1], last[0] - started)
        return Drain(total, last[1] - first[1], last[0] - first[0])
    finally:
        probe.close()
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def filled_topic(ctx: BenchContext, count: int) -> Iterator[tuple[TopicNamespace, str]]:
    with fresh_namespace(ctx.bootstrap) as namespace:
        fill_topic(ctx.producer_config(), echo_records(namespace, count))
        yield namespace, namespace.physical(REGISTRY.get(ECHO_TYPE).topic)


def _worker_env(
    ctx: BenchContext, namespace: TopicNamespace, group: str, url: str
) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": ctx.bootstrap,
        "DPP_TOPIC_PREFIX": namespace.prefix,
        "DPP_CONSUMER_GROUP": group,
        "DATABASE_URL": url,
        "DPP_METRICS_PORT": "0",
    }


def _measure(
    ctx: BenchContext,
    name: str,
    count: int,
    command: list[str],
    *,
    database_url: str = "null",
    extra_env: dict[str, str] | None = None,
) -> Drain:
    group = f"bench-{name}-{uuid.uuid4().hex[:8]}"
    with filled_topic(ctx, count) as (namespace, topic):
        argv = [arg.format(bootstrap=ctx.bootstrap, group=group, topic=topic, count=count)
                for arg in command]  # fmt: skip
        try:
            return drain_backlog(
                ctx.bootstrap, group=group, topic=topic, total=count, command=argv,
                env=_worker_env(ctx, namespace, group, database_url) | (extra_env or {}),
                log_path=ctx.work_dir / f"consume-{name}.log", timeout_s=ctx.pick(120, 900),
            )  # fmt: skip
        finally:
            delete_groups(ctx.bootstrap, [group])


RAW = [
    sys.executable,
    "-m",
    "bench.peers.raw_consumer",
    "{bootstrap}",
    "{group}",
    "{topic}",
    "{count}",
]
WORKER_NULL = [sys.executable, "-m", "bench.peers.worker", "null"]
WORKER = [sys.executable, "-m", "dpp_consumer"]
FASTSTREAM = [
    sys.executable,
    "-m",
    "bench.peers.faststream_noop",
    "{bootstrap}",
    "{group}",
    "{topic}",
]


def run(ctx: BenchContext) -> ScenarioResult:
    count = ctx.pick(3_000, 200_000)
    peer_count = ctx.pick(1_000, 20_000)
    durable_count = ctx.pick(3_000, 100_000)
    result = ScenarioResult(
        "consume",
        "3. Consume: dpp worker vs raw confluent-kafka loop vs FastStream; durable job store",
        ctx.command("consume"),
        {
            "event_bytes": EVENT_BYTES,
            "records": count,
            "faststream_records": peer_count,
            "durable_records": durable_count,
            "job": "demo.echo (batchable no-op echo)",
            "worker": "defaults: DPP_WORKER_CONCURRENCY=4, DPP_BATCH_SIZE=500, "
            "DPP_COMMIT_INTERVAL_MS=250; outcomes (job.completed) published transactionally",
            "raw": "consume(500), store_offsets after processing, async commit every 250 ms",
            "faststream": "confluent backend, logger=None, AckPolicy.ACK (commit after handler)",
            "timing": "from the group's first commit to the commit of the last record",
        },
    )
    raw = _measure(ctx, "raw", count, RAW)
    result.add("raw confluent-kafka loop", events_per_s=round(raw.rate), records=raw.committed)
    worker = _measure(ctx, "worker-null-store", count, WORKER_NULL)
    result.add(
        "dpp worker, echo job, bookkeeping off (null store)",
        baseline="raw", ratio=worker.rate / raw.rate,
        events_per_s=round(worker.rate), records=worker.committed,
    )  # fmt: skip
    faststream = _measure(ctx, "faststream", peer_count, FASTSTREAM)
    result.add(
        "FastStream no-op (confluent, logging off)",
        baseline="raw", ratio=faststream.rate / raw.rate,
        events_per_s=round(faststream.rate), records=faststream.committed,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="dpp-bench-sqlite-") as folder:
        sqlite = _measure(
            ctx, "worker-sqlite", durable_count, WORKER, database_url=f"sqlite:///{folder}/jobs.db"
        )
    result.add(
        "dpp worker, echo job, SQLite job store (python -m dpp_consumer)",
        baseline="raw", ratio=sqlite.rate / raw.rate,
        events_per_s=round(sqlite.rate), records=sqlite.committed,
    )  # fmt: skip
    postgres = _measure_postgres(ctx, durable_count)
    if postgres is not None:
        result.add(
            "dpp worker, echo job, PostgreSQL job store (python -m dpp_consumer)",
            baseline="raw", ratio=postgres.rate / raw.rate,
            events_per_s=round(postgres.rate), records=postgres.committed,
        )  # fmt: skip
    result.targets += [
        Target("worker (null store) / raw", worker.rate / raw.rate, TARGET_RAW_RATIO),
        Target("worker (SQLite store) / raw", sqlite.rate / raw.rate, TARGET_RAW_RATIO),
        Target("worker (null store) / FastStream", worker.rate / faststream.rate,
               TARGET_FASTSTREAM_FACTOR, unit="x"),
        Target("worker (SQLite store) / FastStream", sqlite.rate / faststream.rate,
               TARGET_FASTSTREAM_FACTOR, unit="x"),
        Target("jobs/s per worker, SQLite", sqlite.rate, TARGET_SQLITE_JOBS_S, unit="jobs/s"),
        Target("jobs/s per worker, PostgreSQL", postgres.rate if postgres else None,
               TARGET_POSTGRES_JOBS_S, unit="jobs/s"),
    ]  # fmt: skip
    if ctx.profile:
        _profile_worker(ctx, result)
    return result


def _profile_worker(ctx: BenchContext, result: ScenarioResult) -> None:
    """The worker (null store, then SQLite) under pyinstrument: poll loop and job threads."""
    count = ctx.pick(1_000, 50_000)
    with tempfile.TemporaryDirectory(prefix="dpp-bench-sqlite-") as folder:
        for name, url in (("null store", "null"), ("SQLite store", f"sqlite:///{folder}/jobs.db")):
            profile = ctx.work_dir / f"worker-{name.split()[0]}.profile.txt"
            command = [sys.executable, "-m", "bench.peers.worker", url]
            _measure(ctx, f"profile-{name.split()[0]}", count, command, database_url=url,
                     extra_env={"BENCH_PROFILE_TO": str(profile)})  # fmt: skip
            deadline = time.monotonic() + 30
            while not profile.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            if profile.exists():
                result.profiles[f"worker, echo job, {name}, {count} records (pyinstrument)"] = (
                    profile.read_text()
                )


def _measure_postgres(ctx: BenchContext, count: int) -> Drain | None:
    from tests.fixtures.database import (
        PostgresServer,
        find_postgres_bin_dir,
        fresh_postgres_database,
    )

    bin_dir = find_postgres_bin_dir()
    if bin_dir is None:
        return None
    server = PostgresServer(bin_dir)
    try:
        server.init()
        server.start()
        with fresh_postgres_database(server.url) as url:
            return _measure(ctx, "worker-postgres", count, WORKER, database_url=url)
    finally:
        server.destroy()
