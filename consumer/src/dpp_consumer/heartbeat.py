"""Heartbeats of running jobs: while a handler runs, its job's `updated_at` is touched every
`DPP_HEARTBEAT_INTERVAL_S`, so a long job that reports no progress never looks stalled."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Protocol

from aws_lambda_powertools import Logger

from dpp_consumer.executor import RunUnit
from dpp_consumer.units import Outcome, Unit

JOB_ID_HEADER = "ce_id"  # CloudEvents binary mode: the event id, which is the job id


class HeartbeatStore(Protocol):
    def heartbeat(self, job_ids: list[str]) -> int: ...


class RunningJobs:
    """Job ids of the units the job threads are running now (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: Counter[str] = Counter()

    def tracking(self, run_unit: RunUnit) -> RunUnit:
        """``run_unit`` that registers the unit's job ids while it runs."""

        def run(unit: Unit) -> list[Outcome]:
            ids = [i for record in unit.records if (i := record.header(JOB_ID_HEADER))]
            with self._lock:
                self._ids.update(ids)
            try:
                return run_unit(unit)
            finally:
                with self._lock:
                    self._ids.subtract(ids)
                    self._ids = +self._ids  # drop the ids no unit runs any more

        return run

    def snapshot(self) -> list[str]:
        with self._lock:
            return sorted(self._ids)


class Heartbeat:
    """A daemon thread touching the running jobs every ``interval_s`` (0: never).

    The lag status (``dpp_ops.lag.heads``) reads ``updated_at`` as the heartbeat of the job at a
    partition's committed offset: fresher than `DPP_LAG_HEARTBEAT_TIMEOUT_S` and the frozen
    offset is a busy job (OK), not a STALL. A store that cannot be reached skips a beat.
    """

    def __init__(
        self, running: RunningJobs, store: HeartbeatStore, interval_s: float, logger: Logger
    ) -> None:
        self.running = running
        self.store = store
        self.interval_s = interval_s
        self.logger = logger
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dpp-heartbeat", daemon=True)

    def start(self) -> None:
        if self.interval_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(max(self.interval_s, 1.0) + 5.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            ids = self.running.snapshot()
            if not ids:
                continue
            try:
                self.store.heartbeat(ids)
            except Exception as error:  # StoreUnavailableError, or any store trouble: next beat
                self.logger.warning("heartbeat failed", extra={"error": str(error)})
                continue
            self.beats += 1
