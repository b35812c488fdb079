"""A long job that reports no progress heartbeats: the worker touches its `updated_at` while the
handler runs, so the heartbeat-aware lag status sees a busy partition, never a STALL (real broker
and job store, short intervals instead of the 30 s beat and the 120 s timeout)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from dpp_consumer.context import JobContext
from dpp_consumer.jobs.echo import EchoResult
from dpp_consumer.jobs.registry import JobRegistry
from dpp_ops.exporters import LagMonitor, WatchTarget
from dpp_ops.lag import LagHistory, LagReader, StatusRules
from dpp_ops.lag.heads import HeadJobReader
from dpp_shared.events.payloads import DemoEchoRequestedV1
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from dpp_store import JobStatus, JobStore
from tests.consumer.harness import committed_offsets, produce_echo, running_worker
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ECHO = "demo.echo.requested.v1"
RULES = StatusRules(
    window_s=60, max_observations=50, min_observations=3, stop_after_s=1.0, stall_after_s=1.0,
    heartbeat_timeout_s=1.0,
)  # fmt: skip


@pytest.mark.parametrize("interval_s", [0.2, 0.0], ids=["heartbeat", "no-heartbeat"])
def test_a_silent_long_job_heartbeats_and_is_never_stall(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    group: str,
    interval_s: float,
) -> None:
    gate = threading.Event()
    registry = JobRegistry()

    @registry.job(ECHO, result=EchoResult, job_type="silent")
    def silent(ctx: JobContext[DemoEchoRequestedV1]) -> EchoResult:
        if ctx.payload.message == "long":
            assert gate.wait(60)  # runs until released, and never reports progress
        return EchoResult(session_id=ctx.payload.session_id, message=ctx.payload.message)

    topic = topic_namespace.physical(DEMO_TOPIC)
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=registry,
        consumer_group=group,
        commit_interval_ms=50,
        heartbeat_interval_s=interval_s,
    ):
        try:
            # One key, one partition: a quick job commits offset 0, the long one holds offset
            # 1 (the committed offset) and one more waits behind it.
            first, long_id, _behind = produce_echo(
                kafka_bootstrap, topic_namespace, ["quick", "long", "behind"]
            )
            wait_until(lambda: (j := store.get(long_id)) and j.status == JobStatus.RUNNING, 30)
            running = store.get(long_id)
            assert running is not None and running.source_partition is not None
            partition = running.source_partition
            wait_until(
                lambda: committed_offsets(kafka_bootstrap, group, topic).get(partition) == 1,
                30, "the quick job's commit",
            )  # fmt: skip
            verdict = _verdict_after(kafka_bootstrap, store, group, topic, partition, 3.0)
            beat = store.get(long_id)
            assert beat is not None and beat.status == JobStatus.RUNNING
        finally:
            gate.set()
    silent_for = (beat.updated_at - beat.started_at).total_seconds() if beat.started_at else 0.0
    if interval_s:
        assert verdict["status"] == "OK", verdict
        assert f"head job {long_id} (silent) is running" in verdict["reason"], verdict
        assert silent_for >= 2.0, "updated_at kept moving while the handler ran"
    else:
        assert verdict["status"] == "STALL", verdict
        assert silent_for < 1.0, "without heartbeats updated_at stays at the start"
    assert first != long_id


def _verdict_after(
    bootstrap: str, store: JobStore, group: str, topic: str, partition: int, frozen_s: float
) -> dict[str, Any]:
    """Sample the group until its status is complete and the offset has been frozen for
    ``frozen_s`` (several heartbeat timeouts); the partition's row then."""
    monitor = LagMonitor(
        LagReader(bootstrap),
        [WatchTarget(group, (topic,))],
        LagHistory(RULES),
        heads=HeadJobReader(store.engine),
    )
    started = time.monotonic()

    def settled() -> dict[str, Any] | None:
        (report,) = monitor.sample().groups
        rows = {(p["topic"], p["partition"]): p for p in report.as_dict()["partitions"]}
        complete = report.status is not None and report.status.complete
        if complete and time.monotonic() - started >= frozen_s:
            row: dict[str, Any] = rows[(topic, partition)]
            return row
        return None

    try:
        return wait_until(settled, 30, "a complete status after the offset froze", every_s=0.2)
    finally:
        monitor.reader.close()
