"""WorkerPool with stand-in worker processes: start, SIGTERM newest first, drain, SIGKILL."""

from __future__ import annotations

import sys
from pathlib import Path

from dpp_ops.autoscale import WorkerPool
from tests.waiting import wait_until

# A stand-in worker: announces its metrics port, exits 0 on SIGTERM (or ignores it).
WORKER = """
import signal, sys, time
print("port", sys.argv[1], flush=True)
if sys.argv[2] == "drain":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
else:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    time.sleep(0.05)
"""


def pool(tmp_path: Path, mode: str, drain_timeout_s: float = 30.0) -> WorkerPool:
    return WorkerPool(
        lambda port: [sys.executable, "-c", WORKER, str(port), mode],
        {},
        tmp_path,
        drain_timeout_s=drain_timeout_s,
    )


def test_scale_up_and_down_stops_the_newest_with_sigterm(tmp_path: Path) -> None:
    workers = pool(tmp_path, "drain")
    try:
        started, stopping = workers.scale_to(3)
        assert (len(started), stopping) == (3, [])
        assert len({w.metrics_port for w in started}) == 3
        wait_until(lambda: all("port" in w.log_file.read_text() for w in started), 20, "workers up")
        _, stopping = workers.scale_to(1)
        assert [w.number for w in stopping] == [3, 2]
        assert workers.size == 1 and len(workers.draining) == 2

        drained: list[int] = []

        def reaped() -> bool:
            drained.extend(w.number for w in workers.reap()[0])
            return not workers.draining

        wait_until(reaped, 20, "draining workers to exit")
        assert sorted(drained) == [2, 3]
        assert all(w.returncode == 0 for w in stopping)
        assert workers.active[0].number == 1 and workers.active[0].running
    finally:
        workers.stop_all(timeout_s=20)
    assert workers.size == 0 and not workers.draining


def test_a_worker_that_ignores_sigterm_is_killed_after_the_drain_timeout(tmp_path: Path) -> None:
    workers = pool(tmp_path, "ignore", drain_timeout_s=0.5)
    (worker,), _ = workers.scale_to(1)
    wait_until(lambda: "port" in worker.log_file.read_text(), 20, "worker up")
    workers.scale_to(0)
    wait_until(lambda: not workers.reap()[0] and not workers.draining, 20, "kill after timeout")
    assert worker.returncode == -9


def test_a_crashed_worker_is_reported_and_replaced_on_the_next_scale(tmp_path: Path) -> None:
    workers = WorkerPool(lambda _port: [sys.executable, "-c", "raise SystemExit(3)"], {}, tmp_path)
    workers.scale_to(1)
    crashed = wait_until(lambda: workers.reap()[1], 20, "the crash")
    assert crashed[0].returncode == 3 and workers.size == 0
    started, _ = workers.scale_to(1)
    assert started[0].number == 2
    workers.stop_all(timeout_s=10)
