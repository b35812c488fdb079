"""Autoscaling: from a burst to the scale-up decision and to the new worker consuming, and the
drain time of a fixed backlog with the local autoscaler (`dpp consumer autoscale`) vs one
worker (`python -m dpp_consumer`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from bench.broker import delete_groups, fresh_namespace
from bench.context import BenchContext
from bench.results import ScenarioResult
from bench.server import REPO
from bench.workload import ECHO_TYPE, echo_records, fill_topic
from dpp_shared.events import REGISTRY
from dpp_shared.topics import TopicNamespace

# What the scenario starts (tests/faults/test_bench_smoke.py checks each answers --help).
WORKER = [sys.executable, "-m", "dpp_consumer"]
AUTOSCALER = [sys.executable, "-m", "dpp_cli.main", "consumer", "autoscale"]

LAG_THRESHOLD = 1000
MAX_WORKERS = 3  # the demo topic's partition count: more would idle
POLLING_INTERVAL_S = 1.0


def _wait(condition: Callable[[], bool], timeout_s: float) -> float | None:
    """Poll `condition`; the monotonic time it first held, or None after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.05)
    return None


def _assigned(log: Path) -> bool:
    with suppress(OSError):
        return "partitions assigned" in log.read_text(errors="replace")
    return False


class Commits:
    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
        partitions = self.probe.list_topics(topic, timeout=10).topics[topic].partitions
        self.partitions = [TopicPartition(topic, p) for p in partitions]

    def total(self) -> int:
        return sum(max(tp.offset, 0) for tp in self.probe.committed(self.partitions, timeout=10))

    def close(self) -> None:
        self.probe.close()


def _env(
    ctx: BenchContext, namespace: TopicNamespace, group: str, database_url: str
) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "KAFKA_BOOTSTRAP_SERVERS": ctx.bootstrap,
        "DPP_TOPIC_PREFIX": namespace.prefix,
        "DPP_CONSUMER_GROUP": group,
        "DATABASE_URL": database_url,
        "DPP_METRICS_PORT": "0",
        "DPP_AUTOSCALE_LAG_THRESHOLD": str(LAG_THRESHOLD),
        "DPP_AUTOSCALE_MIN_WORKERS": "1",
        "DPP_AUTOSCALE_MAX_WORKERS": str(MAX_WORKERS),
        "DPP_AUTOSCALE_SCALE_UP_STABILIZATION_S": "0",
        "DPP_AUTOSCALE_POLLING_INTERVAL_S": str(POLLING_INTERVAL_S),
    }


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    with suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _drain(
    ctx: BenchContext, count: int, command: list[str], name: str, autoscaled: bool
) -> dict[str, float | None]:
    group = f"bench-autoscale-{name}-{uuid.uuid4().hex[:8]}"
    folder = ctx.work_dir / f"autoscale-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    status_file, log_dir = folder / "status.json", folder / "workers"
    with fresh_namespace(ctx.bootstrap) as namespace:
        topic = namespace.physical(REGISTRY.get(ECHO_TYPE).topic)
        records = echo_records(namespace, count)
        env = _env(ctx, namespace, group, f"sqlite:///{folder / 'jobs.db'}")
        argv = command + (["--status-file", str(status_file), "--log-dir", str(log_dir)]
                          if autoscaled else [])  # fmt: skip
        with (folder / "process.log").open("ab") as log:
            process = subprocess.Popen(
                argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        first_log = log_dir / "worker-1.log" if autoscaled else folder / "process.log"
        commits = Commits(ctx.bootstrap, group, topic)
        try:
            if _wait(lambda: _assigned(first_log), 90) is None:
                raise RuntimeError(f"the first worker never got partitions: {first_log}")
            burst = time.monotonic()
            fill_topic(ctx.producer_config(), records)
            filled = time.monotonic()
            decided = consuming = None
            if autoscaled:
                decided = _wait(lambda: _desired(status_file) > 1, 120)
                consuming = _wait(lambda: _assigned(log_dir / "worker-2.log"), 120)
            drained = _wait(lambda: commits.total() >= count, ctx.pick(120, 900))
            peak = _peak_workers(log_dir) if autoscaled else 1
        finally:
            commits.close()
            _stop(process)
            delete_groups(ctx.bootstrap, [group])
    return {
        "fill_s": round(filled - burst, 2),
        "to_decision_s": None if decided is None else round(decided - burst, 2),
        "to_new_worker_consuming_s": None if consuming is None else round(consuming - burst, 2),
        "drain_s": None if drained is None else round(drained - burst, 2),
        "workers_started": peak,
    }


def _desired(status_file: Path) -> int:
    with suppress(OSError, ValueError):
        return int(json.loads(status_file.read_text())["desired"])
    return 0


def _peak_workers(log_dir: Path) -> int:
    return len(list(log_dir.glob("worker-*.log")))


def run(ctx: BenchContext) -> ScenarioResult:
    count = ctx.pick(3_000, 60_000)
    result = ScenarioResult(
        "autoscale",
        "5. Autoscaling: burst -> decision -> new worker consuming; backlog drain time",
        ctx.command("autoscale"),
        {
            "backlog_records": count,
            "job": "demo.echo",
            "policy": f"lag_threshold={LAG_THRESHOLD}, min 1, max {MAX_WORKERS} workers, "
            f"polling {POLLING_INTERVAL_S:g} s, scale-up stabilisation 0 s",
            "store": "SQLite (one file shared by the workers)",
            "timing": "from the start of the burst (producing the backlog) on",
        },
    )
    single = _drain(ctx, count, WORKER, "single", False)
    autoscaler = [*AUTOSCALER, "--interval", "1", "--metrics-port", "0"]
    scaled = _drain(ctx, count, autoscaler, "scaled", True)
    result.add_metrics("one worker (python -m dpp_consumer)", dict(single))
    ratio = None
    if single["drain_s"] and scaled["drain_s"]:
        ratio = scaled["drain_s"] / single["drain_s"]
    result.add("dpp consumer autoscale", baseline="one worker (drain_s)", ratio=ratio, **scaled)
    result.notes.append(
        "ratio = drain time with the autoscaler / drain time of one worker (below 1 is faster). "
        "All workers share this machine's 2 cores with the broker."
    )
    return result
