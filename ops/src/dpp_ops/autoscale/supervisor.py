"""The control loop: read the group's lag, decide the worker count, start or drain workers."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpp_ops.autoscale.workers import WorkerPool, WorkerProcess

if TYPE_CHECKING:
    from dpp_ops.autoscale.policy import AutoscalePolicy, AutoscaleState, ScaleDecision
    from dpp_ops.lag import LagReader

log = logging.getLogger("dpp.autoscale")

RETRY_AFTER_FAILURE_S = 2.0
"""After a failed lag read, look again this soon (or at the interval, if shorter)."""
WATCH_S = 0.2
"""Between decisions, look this often for a worker that exited on its own."""


@dataclass(frozen=True, slots=True)
class SupervisorStatus:
    """What the supervisor publishes after every decision (status file, metrics, logs)."""

    group: str
    workers: int
    draining: int
    desired: int
    total_lag: int
    partition_count: int
    reason: str
    at: float
    pids: tuple[int, ...]
    metrics_ports: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Publisher = Callable[[SupervisorStatus], None]


class Supervisor:
    """Sizes a :class:`WorkerPool` for one consumer group with :func:`dpp_ops.autoscale.decide`.

    The partition count is the sum over the subscribed topics (every partition of them appears
    in the reader's answer because the topics are passed). Decisions are logged with their
    reason whenever they change something or their reason changes.
    """

    def __init__(
        self,
        pool: WorkerPool,
        reader: LagReader,
        *,
        group: str,
        topics: Sequence[str],
        policy: AutoscalePolicy,
        interval_s: float,
        publishers: Sequence[Publisher] = (),
    ) -> None:
        self.pool = pool
        self.reader = reader
        self.group = group
        self.topics = tuple(topics)
        self.policy = policy
        self.interval_s = interval_s
        self.publishers = list(publishers)
        self.state: AutoscaleState | None = None
        self.last: ScaleDecision | None = None
        self._stop = threading.Event()
        # The pool is changed by the decision loop and by the crash watcher: one at a time.
        self._pool_lock = threading.RLock()

    def stop(self) -> None:
        """Ask :meth:`run` to return; safe from signal handlers."""
        self._stop.set()

    def tick(self) -> ScaleDecision:
        """One control step."""
        from dpp_ops.autoscale.policy import decide, loads_of  # noqa: PLC0415

        with self._pool_lock:
            # Whichever thread finds a crashed worker first replaces it the same way.
            self.replace_crashed()
        lag = self.reader.read_group(self.group, self.topics)
        subscribed = set(self.topics)
        mine = [p for p in lag.partitions if p.topic in subscribed]
        decision = decide(
            loads_of(replace(lag, partitions=tuple(mine))),
            current_workers=self.pool.size,
            now=lag.observed_at,
            policy=self.policy,
            state=self.state,
            partition_count=len(mine),
        )
        self.state = decision.state
        with self._pool_lock:
            before = self.pool.size
            started, stopping = self.pool.scale_to(decision.desired_workers)
        if started or stopping or self.last is None or self.last.reason != decision.reason:
            verb = "scale up" if started else "scale down" if stopping else "hold"
            log.info(
                "%s %d -> %d workers: %s",
                verb,
                before,
                self.pool.size,
                decision.reason,
                extra={"group": self.group, "desired": decision.desired_workers},
            )
        self.last = decision
        self._publish(decision, lag.observed_at)
        return decision

    def replace_crashed(self) -> int:
        """Start a new worker for every active one that exited on its own, at once (not at the
        next decision: until then its partitions would have no consumer). Returns how many."""
        size = self.pool.size
        crashed = self._reap()
        if not crashed:
            return 0
        started, _ = self.pool.scale_to(size)
        for old, new in zip(crashed, started, strict=False):
            log.warning(
                "worker %d exited on its own (exit %s); replaced by worker %d (pid %s)",
                old.number, old.returncode, new.number, new.pid,
            )  # fmt: skip
        why = f"replaced {len(started)} crashed worker(s)"
        self._publish(self.last, time.time(), reason=why, desired=size)
        return len(started)

    def _reap(self) -> list[WorkerProcess]:
        drained, crashed = self.pool.reap()
        for worker in drained:
            log.info("worker %d drained (exit %s)", worker.number, worker.returncode)
        for worker in crashed:
            log.warning("worker %d exited on its own (exit %s)", worker.number, worker.returncode)
        return crashed

    def _watch_crashes(self, stop: threading.Event) -> None:
        """Replace crashed workers within WATCH_S, also while a decision waits on a slow lag
        read (a fresh or busy broker can hold one for the whole request timeout)."""
        while not stop.wait(WATCH_S):
            with self._pool_lock:
                if any(not worker.running for worker in self.pool.active):
                    self.replace_crashed()

    def run(self) -> None:
        """Start the floor of workers, then decide every ``interval_s`` until :meth:`stop`;
        finally SIGTERM every worker and wait for them to drain."""
        floor = self.policy.min_workers
        watching = threading.Event()
        watcher = threading.Thread(
            target=self._watch_crashes, args=(watching,), name="crash-watch", daemon=True
        )
        try:
            if floor:
                self.pool.scale_to(floor)
                log.info("started %d worker(s) (min_workers)", floor)
                self._publish(None, time.time(), reason="started the minimum", desired=floor)
            watcher.start()
            while not self._stop.is_set():
                wait_s = self.interval_s
                try:
                    self.tick()
                except Exception as error:
                    # A broker hiccup (a fresh broker answers NOT_COORDINATOR for a while) must
                    # not kill the workers: keep the pool as it is and look again soon.
                    log.warning(
                        "autoscale step failed, keeping %d workers: %s", self.pool.size, error
                    )
                    wait_s = min(self.interval_s, RETRY_AFTER_FAILURE_S)
                self._stop.wait(wait_s)
        finally:
            watching.set()  # draining workers exit on purpose: nothing to replace any more
            if watcher.is_alive():
                watcher.join()
            log.info("stopping %d worker(s), draining", self.pool.size)
            self.pool.stop_all()
            self.reader.close()
            self._publish(None, time.time(), reason="stopped")
            log.info("all workers stopped")

    def _publish(
        self, decision: ScaleDecision | None, at: float, reason: str = "", desired: int = 0
    ) -> None:
        status = SupervisorStatus(
            group=self.group,
            workers=self.pool.size,
            draining=len(self.pool.draining),
            desired=decision.desired_workers if decision else desired,
            total_lag=decision.total_lag if decision else 0,
            partition_count=decision.partition_count if decision else 0,
            reason=reason or (decision.reason if decision else ""),
            at=at,
            pids=tuple(w.pid for w in self.pool.active if w.pid is not None),
            metrics_ports=tuple(w.metrics_port for w in self.pool.active),
        )
        for publish in self.publishers:
            try:
                publish(status)
            except Exception:
                log.exception("publishing the autoscale status failed")


def status_file_publisher(path: Path) -> Publisher:
    """Writes the newest status as JSON, atomically (readers never see half a file)."""

    def publish(status: SupervisorStatus) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(status.as_dict()))
        partial.replace(path)

    return publish


def read_status_file(path: Path) -> SupervisorStatus | None:
    """The status a supervisor last wrote, or None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    try:
        data["pids"] = tuple(data.get("pids", ()))
        data["metrics_ports"] = tuple(data.get("metrics_ports", ()))
        return SupervisorStatus(**data)
    except (TypeError, AttributeError):  # written by another version: ignore, don't crash
        return None


def metrics_publisher(port: int, host: str = "127.0.0.1") -> Publisher:
    """Serves the worker count on ``host:port/metrics`` and returns the publisher that sets it."""
    from prometheus_client import (  # noqa: PLC0415
        CollectorRegistry,
        Gauge,
        start_http_server,
    )

    registry = CollectorRegistry()
    labels = ["group"]
    workers = Gauge("dpp_autoscale_workers", "Active worker processes", labels, registry=registry)
    draining = Gauge(
        "dpp_autoscale_draining_workers", "Workers draining", labels, registry=registry
    )
    desired = Gauge(
        "dpp_autoscale_desired_workers", "Decided worker count", labels, registry=registry
    )
    lag = Gauge("dpp_autoscale_total_lag", "Total lag the decision saw", labels, registry=registry)
    start_http_server(port, addr=host, registry=registry)

    def publish(status: SupervisorStatus) -> None:
        workers.labels(status.group).set(status.workers)
        draining.labels(status.group).set(status.draining)
        desired.labels(status.group).set(status.desired)
        lag.labels(status.group).set(status.total_lag)

    return publish
