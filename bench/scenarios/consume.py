"""Consume: events/s of the dpp worker (no-op echo job) vs a raw confluent-kafka loop, a raw
transactional loop with the worker's semantics and FastStream (two ack policies); then jobs/s
with the durable job store (SQLite, PostgreSQL). Each consumer is its own process and counts
what its handler processed; the count must equal the records sent."""

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

from confluent_kafka import Consumer, KafkaException, TopicPartition

from bench.broker import delete_groups, fresh_namespace
from bench.context import BenchContext
from bench.peers.tally import COUNT_ENV, Counted
from bench.results import ScenarioResult, Target
from bench.server import REPO
from bench.workload import ECHO_TYPE, EVENT_BYTES, echo_records, fill_topic
from dpp_shared.events import REGISTRY
from dpp_shared.topics import TopicNamespace

TARGET_RAW_TX_RATIO = 0.5
TARGET_RAW_RATIO = 0.25
TARGET_FASTSTREAM_FACTOR = 4.0
TARGET_SQLITE_JOBS_S = 10_000.0
TARGET_POSTGRES_JOBS_S = 5_000.0


class CountMismatchError(AssertionError):
    """A peer's handler did not process exactly the records sent: no ratio is printed."""


@dataclass(frozen=True)
class Drain:
    """One consumer on a backlog of `total` records: how many its handler really processed,
    timed by the handler itself from the first record to the last."""

    total: int
    processed: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0


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
    """Start `command`, wait until its group's commits reach `total`, stop it and read the
    tally its handler kept; raises `CountMismatchError` unless it processed exactly `total`
    records (a handler that fails while offsets advance is caught here, not in a ratio)."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    partitions = [
        TopicPartition(topic, p)
        for p in probe.list_topics(topic, timeout=10).topics[topic].partitions
    ]
    count_path = log_path.with_suffix(".count.json")
    count_path.unlink(missing_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, env={**os.environ, **env, "PYTHONPATH": str(REPO), COUNT_ENV: str(count_path)},
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout_s
        committed = 0
        while time.monotonic() < deadline:
            with suppress(KafkaException):  # coordinator still loading on a fresh broker
                committed = _committed(probe, partitions)
            if committed >= total:
                break
            if process.poll() is not None and process.returncode != 0:
                raise RuntimeError(f"consumer exited {process.returncode}: {log_path}")
            time.sleep(0.05)
        if committed < total:
            raise RuntimeError(f"{committed}/{total} committed within {timeout_s}s: {log_path}")
    finally:
        probe.close()
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if not count_path.exists():
        raise CountMismatchError(f"the peer wrote no tally ({count_path}): {log_path}")
    counted = Counted.read(count_path)
    if counted.processed != total or counted.first is None or counted.last is None:
        raise CountMismatchError(
            f"{command[2]}: the handler processed {counted.processed} of {total} records "
            f"sent (log: {log_path})"
        )
    return Drain(total, counted.processed, counted.last - counted.first)


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


RESULTS_TOPIC = "dpp.job.results"


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
        fields = {"bootstrap": ctx.bootstrap, "group": group, "topic": topic, "count": count,
                  "results": namespace.physical(RESULTS_TOPIC)}  # fmt: skip
        argv = [arg.format(**fields) for arg in command]
        try:
            return drain_backlog(
                ctx.bootstrap, group=group, topic=topic, total=count, command=argv,
                env=_worker_env(ctx, namespace, group, database_url) | (extra_env or {}),
                log_path=ctx.work_dir / f"consume-{name}.log", timeout_s=ctx.pick(120, 900),
            )  # fmt: skip
        finally:
            delete_groups(ctx.bootstrap, [group])


PY = sys.executable
RAW = [PY, "-m", "bench.peers.raw_consumer", "{bootstrap}", "{group}", "{topic}", "{count}"]
RAW_TX = [PY, "-m", "bench.peers.raw_transactional",
          "{bootstrap}", "{group}", "{topic}", "{results}", "{count}"]  # fmt: skip
WORKER_NULL = [PY, "-m", "bench.peers.worker", "null"]
FASTSTREAM = [PY, "-m", "bench.peers.faststream_noop", "{bootstrap}", "{group}", "{topic}"]


def _worker(url: str) -> list[str]:
    return [PY, "-m", "bench.peers.worker", url]


def run(ctx: BenchContext) -> ScenarioResult:
    count = ctx.pick(3_000, 200_000)
    peer_count = ctx.pick(1_000, 20_000)
    durable_count = ctx.pick(3_000, 100_000)
    result = ScenarioResult(
        "consume",
        "3. Consume: dpp worker vs raw confluent-kafka loops vs FastStream; durable job store",
        ctx.command("consume"),
        {
            "event_bytes": EVENT_BYTES,
            "records": count,
            "faststream_records": peer_count,
            "durable_records": durable_count,
            "job": "demo.echo (batchable no-op echo)",
            "worker": "bench.peers.worker (run_worker's Worker, handlers wrapped to count), "
            "defaults: DPP_WORKER_CONCURRENCY=4, DPP_BATCH_SIZE=500, "
            "DPP_COMMIT_INTERVAL_MS=250; outcomes (job.completed) and offsets in one "
            "transaction; at least once, no duplicate results",
            "raw": "consume(500), store_offsets after processing, async commit every 250 ms; "
            "at least once, no result records",
            "raw_transactional": "read_committed, consume(500), one result record per input, "
            "one transaction per batch with send_offsets_to_transaction: the worker's semantics",
            "faststream_default": "confluent backend, logger=None, default ack policy "
            "(ACK_FIRST: auto-commit, offsets may pass a record before its handler ran: at "
            "most once), no result records",
            "faststream_ack": "AckPolicy.ACK: commit after each handler call (at least once), "
            "no result records, no transaction",
            "counting": "every peer's handler counts the records it processed; the scenario "
            "fails unless that count equals the records sent",
            "timing": "the handler's own clock, first to last record processed; the group's "
            "commits must also reach the last record (checked, not timed)",
        },
    )
    raw = _measure(ctx, "raw", count, RAW)
    result.add("raw confluent-kafka loop (no results)", events_per_s=round(raw.rate),
               records=raw.processed)  # fmt: skip
    raw_tx = _measure(ctx, "raw-transactional", count, RAW_TX)
    result.add(
        "raw transactional consume->produce->commit loop (same semantics as the worker)",
        baseline="raw", ratio=raw_tx.rate / raw.rate,
        events_per_s=round(raw_tx.rate), records=raw_tx.processed,
    )  # fmt: skip
    worker = _measure(ctx, "worker-null-store", count, WORKER_NULL)
    result.add(
        "dpp worker, echo job, bookkeeping off (null store)",
        baseline="raw transactional", ratio=worker.rate / raw_tx.rate,
        events_per_s=round(worker.rate), records=worker.processed,
    )  # fmt: skip
    faststream = _measure(ctx, "faststream-default", peer_count, [*FASTSTREAM, "default"])
    result.add(
        "FastStream, default ack policy (ACK_FIRST: at most once)",
        baseline="raw", ratio=faststream.rate / raw.rate,
        events_per_s=round(faststream.rate), records=faststream.processed,
    )  # fmt: skip
    faststream_ack = _measure(ctx, "faststream-ack", peer_count, [*FASTSTREAM, "ack"])
    result.add(
        "FastStream, AckPolicy.ACK (commit after handler: at least once)",
        baseline="raw", ratio=faststream_ack.rate / raw.rate,
        events_per_s=round(faststream_ack.rate), records=faststream_ack.processed,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="dpp-bench-sqlite-") as folder:
        url = f"sqlite:///{folder}/jobs.db"
        sqlite = _measure(ctx, "worker-sqlite", durable_count, _worker(url), database_url=url)
    result.add(
        "dpp worker, echo job, SQLite job store",
        baseline="raw transactional", ratio=sqlite.rate / raw_tx.rate,
        events_per_s=round(sqlite.rate), records=sqlite.processed,
    )  # fmt: skip
    postgres = _measure_postgres(ctx, durable_count)
    if postgres is not None:
        result.add(
            "dpp worker, echo job, PostgreSQL job store",
            baseline="raw transactional", ratio=postgres.rate / raw_tx.rate,
            events_per_s=round(postgres.rate), records=postgres.processed,
        )  # fmt: skip
    result.targets += [
        Target("worker (null store) / raw transactional", worker.rate / raw_tx.rate,
               TARGET_RAW_TX_RATIO),
        Target("worker (null store) / raw", worker.rate / raw.rate, TARGET_RAW_RATIO),
        Target("worker (null store) / FastStream default", worker.rate / faststream.rate,
               TARGET_FASTSTREAM_FACTOR, unit="x"),
        Target("worker (null store) / FastStream ACK", worker.rate / faststream_ack.rate,
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
            return _measure(ctx, "worker-postgres", count, _worker(url), database_url=url)
    finally:
        server.destroy()
