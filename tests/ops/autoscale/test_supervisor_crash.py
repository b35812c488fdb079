"""The supervisor on the real broker replaces a crashed worker at once, not at the next decision;
and the local autoscaler's default cap counts only the partitions that lag."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dpp_ops.autoscale import Supervisor, WorkerPool
from dpp_ops.autoscale.policy import PartitionLoad, decide
from dpp_ops.autoscale.settings import AutoscaleSettings
from dpp_ops.autoscale.supervisor import (
    SupervisorStatus,
    read_status_file,
    status_file_publisher,
)
from dpp_ops.autoscale.supervisor import log as supervisor_log
from dpp_ops.lag import LagReader
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from tests.ops.test_worker_pool import WORKER
from tests.waiting import wait_until

INTERVAL_S = 300.0  # no second decision happens during the test


def test_a_crashed_worker_is_replaced_at_once(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    group: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=supervisor_log.name)
    pool = WorkerPool(
        lambda port: [sys.executable, "-c", WORKER, str(port), "drain"], {}, tmp_path / "logs"
    )
    status_file = tmp_path / "status.json"
    policy = AutoscaleSettings(min_workers=2, max_workers=4).policy()
    supervisor = Supervisor(
        pool,
        LagReader(kafka_bootstrap),
        group=group,
        topics=[topic_namespace.physical(DEMO_TOPIC)],
        policy=policy,
        interval_s=INTERVAL_S,
        publishers=[status_file_publisher(status_file)],
    )

    def status_where(wanted: Callable[[SupervisorStatus], bool]) -> SupervisorStatus | None:
        status = read_status_file(status_file)
        return status if status is not None and wanted(status) else None

    runner = threading.Thread(target=supervisor.run)
    runner.start()
    try:
        first = wait_until(lambda: status_where(lambda s: len(s.pids) == 2), 30, "2 workers")
        victim = first.pids[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: status_where(lambda s: len(s.pids) == 2 and victim not in s.pids),
            10, "the crashed worker replaced",
        )  # fmt: skip
        took = time.monotonic() - killed_at
        assert took < 5, f"replaced after {took:.1f}s"
        # The status may already show the next decision (a fresh broker retries lag reads
        # quickly); the replacement itself is in the log, once.
        replacements = [r for r in caplog.records if "replaced by worker" in r.getMessage()]
        assert len(replacements) == 1, [r.getMessage() for r in caplog.records]
        assert f"pid {victim}" not in replacements[0].getMessage()
        assert all(worker.running for worker in pool.active) and pool.size == 2
    finally:
        supervisor.stop()
        runner.join(60)
    assert not runner.is_alive() and pool.size == 0


@pytest.mark.parametrize("lagging", [1, 3])
def test_default_cap_counts_only_lagging_partitions(lagging: int) -> None:
    # 84 partitions (job topics and their retry tiers), a few of them far behind.
    loads = [PartitionLoad(10_000 if n < lagging else 0) for n in range(84)]
    policy = AutoscaleSettings(max_workers=8, lag_threshold=100).policy()
    decision = decide(loads, current_workers=1, now=0.0, policy=policy)
    assert decision.desired_workers == lagging
    assert f"capped at {lagging} lagging partitions" in decision.reason
    idle = AutoscaleSettings(max_workers=8, allow_idle_consumers=True).policy()
    assert not idle.limit_to_partitions_with_lag, "asking for idle consumers lifts the cap"
    assert decide(loads, current_workers=1, now=0.0, policy=idle).desired_workers == 8
