"""One handler call: build the job's context, run the handler, validate its result, classify a
failure. A job's exception never escapes: it becomes a Failure (or None when it was cancelled)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from dpp_consumer.context import Cancellation, JobContext
from dpp_consumer.dispatch import Job
from dpp_consumer.errors import JobCancelledError
from dpp_consumer.metrics import WorkerMetrics, observe_all
from dpp_consumer.retry import Failure
from dpp_store import StoreError


@dataclass
class Success:
    """A handler's validated result, how long it took and on which attempt."""

    result: dict[str, Any]
    duration_s: float
    attempts: int


class ProgressStore(Protocol):
    """What a running job may write besides its outcome: progress and checkpoints."""

    def report_progress(self, job_id: str, progress: float, message: str | None = None) -> None:
        """Record how far the job got (informative)."""

    def load_checkpoint(self, job_id: str) -> dict[str, Any] | None:
        """The job's last saved checkpoint, if any."""

    def save_checkpoint(
        self,
        job_id: str,
        checkpoint: dict[str, Any],
        *,
        progress: float | None = None,
        message: str | None = None,
    ) -> None:
        """Keep a checkpoint a later attempt resumes from (with the progress it stands for)."""


class UnitTiming:
    """A fast unit's running-jobs gauge and handler durations, recorded once per unit: its jobs
    run one after another, so the gauge counts one running job of each type for the unit's
    length, and the durations go into the histogram together when the unit's handlers are done
    (two metric updates per job cost more than an echo job)."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self._metrics = metrics
        self._durations: dict[str, list[float]] = {}

    def durations(self, job_type: str) -> list[float]:
        """Where the durations of this unit's jobs of `job_type` go (call before the first runs)."""
        found = self._durations.get(job_type)
        if found is None:
            found = self._durations[job_type] = []
            self._metrics.job(job_type).in_flight.inc()
        return found

    def close(self) -> None:
        for job_type, amounts in self._durations.items():
            metrics = self._metrics.job(job_type)
            metrics.in_flight.dec()
            observe_all(metrics.duration, amounts)
        self._durations.clear()


class HandlerCall:
    """Calls handlers for one worker; shares its metrics, logger and store across job threads."""

    def __init__(self, *, store: ProgressStore, metrics: WorkerMetrics, logger: Logger) -> None:
        self.store = store
        self.metrics = metrics
        self.logger = logger
        # Every job's context gets these three callables: bound once, not once per job.
        self._progress_sink = self._report_progress
        self._load_checkpoint = store.load_checkpoint
        self._save_checkpoint = store.save_checkpoint

    def __call__(
        self, job: Job, attempt: int, cancellation: Cancellation, timing: UnitTiming | None = None
    ) -> Success | Failure | None:
        """Run the job's handler; its metrics are recorded now, or with its unit's `timing`."""
        spec = job.spec
        context: JobContext[BaseModel] = JobContext(
            job_id=job.job_id,
            job_type=spec.job_type,
            payload=job.event.payload,
            envelope=job.event.envelope,
            attempt=attempt,
            deadline=time.monotonic() + spec.timeout_s,
            started_at=datetime.now(UTC),
            cancellation=cancellation,
            progress_sink=self._progress_sink,
            checkpoint_loader=self._load_checkpoint,
            checkpoint_saver=self._save_checkpoint,
        )
        # Fast (batchable) jobs log only when they fail: a line per echo would cost more than it.
        verbose = not spec.batchable
        if verbose:
            self._log_keys(job, attempt)
            self.logger.info("job started")
        # A fast unit's jobs are timed by its `timing`: no metric is looked up or touched here.
        if timing is None:
            metrics = self.metrics.job(spec.job_type)
            durations = None
            metrics.in_flight.inc()
        else:
            durations = timing.durations(spec.job_type)
        started = time.perf_counter()
        elapsed = None
        try:
            produced = spec.handler(context)
            result = (
                produced
                if isinstance(produced, spec.result)
                else spec.result.model_validate(produced, from_attributes=True)
            )
            dumped = result.model_dump(mode="json")
            elapsed = time.perf_counter() - started  # one clock reading serves both
            outcome: Success | Failure | None = Success(dumped, elapsed, attempt)
        except JobCancelledError as error:
            self.logger.info("job cancelled", extra={"reason": str(error)})
            outcome = None
        except Exception as error:  # a job's failure must never stop the worker
            if cancellation.is_set:
                outcome = None  # it failed because it was asked to stop: not a real failure
            else:
                outcome = Failure.of(error)
                if not verbose:
                    self._log_keys(job, attempt)
                self.logger.warning(
                    "job failed",
                    extra={"error_type": outcome.error_type, "retriable": outcome.retriable},
                    exc_info=True,
                )
                verbose = True
        finally:
            if elapsed is None:  # the handler or its result failed
                elapsed = time.perf_counter() - started
            if durations is None:
                metrics.in_flight.dec()
                metrics.duration.observe(elapsed)
            else:
                durations.append(elapsed)
        if verbose:
            if isinstance(outcome, Success):
                self.logger.info("job succeeded", extra={"duration_ms": outcome.duration_s * 1e3})
            self.logger.thread_safe_clear_keys()
        return outcome

    def _log_keys(self, job: Job, attempt: int) -> None:
        self.logger.thread_safe_append_keys(
            correlation_id=job.event.envelope.correlationid,
            job_id=job.job_id,
            job_type=job.spec.job_type,
            attempt=attempt,
        )

    def _report_progress(self, job_id: str, progress: float, message: str | None) -> None:
        try:
            self.store.report_progress(job_id, progress, message)
        except StoreError as error:  # progress is informative; losing one report is harmless
            self.logger.warning(
                "progress not recorded", extra={"job_id": job_id, "error": str(error)}
            )
