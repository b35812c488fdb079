"""Runs one unit of records: dispatch, then each job's handler call, then its recorded outcome.

Decoding lives in :mod:`dispatch`, the handler call in :mod:`handler_call`, the job-store
strategy in :mod:`bookkeeping` and the records an outcome publishes in :mod:`outcomes`; this
module only orders them and turns each record into an :class:`Outcome`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from aws_lambda_powertools import Logger

from dpp_consumer.bookkeeping import Bookkeeping, FinishTogether, JobBook, StartFirst
from dpp_consumer.context import Cancellation
from dpp_consumer.dispatch import PUBLISHER_HEADER, Job, Undispatchable, dispatch
from dpp_consumer.errors import ConsumerError
from dpp_consumer.handler_call import HandlerCall, Success, UnitTiming
from dpp_consumer.jobs.registry import JobRegistry, JobSpec
from dpp_consumer.lifecycle import completed_record, event_ids, event_time, failed_record
from dpp_consumer.metrics import WorkerMetrics
from dpp_consumer.outcomes import OutcomeRecords
from dpp_consumer.records import ConsumedRecord
from dpp_consumer.retry import Delivery, Failure
from dpp_consumer.units import Outcome, Unit, UnitDeferredError
from dpp_shared.codec import KafkaRecord
from dpp_shared.events import REGISTRY, EventRegistry
from dpp_shared.tracing import TraceHeaders, Tracing
from dpp_store import JobRecord, JobStart, JobStatus, StoreUnavailableError

_T = TypeVar("_T")
STORE_RETRY_MAX_S = 5.0
UNKNOWN_JOB_TYPE = "unknown"
MAX_JOB_ID_CHARS = 64  # the job store's id column; a longer ce_id cannot name a job


class WorkerClosingError(ConsumerError):
    """The worker is shutting down while a unit still waits for the store: abandon the unit."""


def _is_source_of(delivery: Delivery, record: JobRecord) -> bool:
    """True if this record is (a retry of) the very event the job was started from, not another
    event that happens to carry the same id."""
    return (
        record.source_topic == delivery.original_topic
        and record.source_partition == delivery.original_partition
        and record.source_offset == delivery.original_offset
    )


class JobRunner:
    """Turns units into outcomes. Called from pool threads; shares one store and registry."""

    def __init__(
        self,
        *,
        registry: JobRegistry,
        store: JobBook,
        outcome_records: OutcomeRecords,
        metrics: WorkerMetrics,
        logger: Logger,
        is_closing: Callable[[], bool],
        events: EventRegistry = REGISTRY,
        tracing: Tracing | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.records = outcome_records
        self.metrics = metrics
        self.logger = logger
        self.is_closing = is_closing
        self.events = events
        self.tracing = tracing
        self.call_handler = HandlerCall(store=store, metrics=metrics, logger=logger)
        self._start_first = StartFirst(store)
        self._finish_together = FinishTogether(store)
        # Set while a unit runs inline on the poll thread and has not yet reached the store.
        self._inline = threading.local()

    def run_inline(self, unit: Unit) -> list[Outcome]:
        """`run` on the poll thread. If the store is unavailable at the unit's first store call
        (nothing written yet), raises `UnitDeferredError` so a job thread retries it; a later
        outage is waited out here, as on a job thread (nothing of the unit is visible until its
        outcomes are committed, so either way the guarantees hold)."""
        self._inline.deferrable = True
        try:
            return self.run(unit)
        finally:
            self._inline.deferrable = False

    def run(self, unit: Unit) -> list[Outcome]:
        jobs, rejected = dispatch(unit.records, self.registry, self.events, self.tracing)
        try:
            outcomes = [self._dead_letter_undispatchable(item) for item in rejected]
            if jobs:
                fast = unit.spec is not None and unit.spec.batchable
                book = self._finish_together if fast else self._start_first
                outcomes.extend(self._run_jobs(unit.cancellation, jobs, book, fast=fast))
        finally:
            if self.tracing is not None:
                # The worker spans end with the outcome recorded and its records built: the
                # records (carrying each span's context) are published with the next commit.
                for span in [job.span for job in jobs] + [item.span for item in rejected]:
                    if span is not None:
                        span.end()
        return outcomes

    def _run_jobs(
        self, cancellation: Cancellation, jobs: list[Job], book: Bookkeeping, *, fast: bool
    ) -> list[Outcome]:
        known = book.known(jobs, self._store_call)
        outcomes: list[Outcome] = []
        successes: dict[str, tuple[Job, Success]] = {}
        failures: list[tuple[Job, Failure]] = []
        seen: set[str] = set()
        timing = UnitTiming(self.metrics) if fast else None
        try:
            for job in jobs:
                record = known[job.job_id]
                if (record is not None and record.is_terminal) or job.job_id in seen:
                    outcomes.append(self._skipped(job, record, first=job.job_id not in seen))
                    continue
                seen.add(job.job_id)
                if cancellation.is_set:
                    outcomes.append(Outcome.redeliver(job.message))
                    continue
                result = self.call_handler(job, book.attempt(job, record), cancellation, timing)
                if isinstance(result, Success):
                    successes[job.job_id] = (job, result)
                elif isinstance(result, Failure):
                    failures.append((job, result))
                else:
                    outcomes.append(Outcome.redeliver(job.message))
        finally:
            if timing is not None:
                timing.close()
        if successes:
            outcomes.extend(self._record_successes(successes, book))
        if failures:
            begun = book.begun([job for job, _ in failures], known, self._store_call)
            for job, failure in failures:
                started = begun[job.job_id]
                if started.is_terminal:  # another worker finished it meanwhile
                    outcomes.append(Outcome.done(job.message))
                else:
                    outcomes.append(self._record_failure(job, started, failure))
        return outcomes

    def _skipped(self, job: Job, record: JobRecord | None, *, first: bool) -> Outcome:
        """A redelivery (or a duplicate in this batch) of a finished job: not run again."""
        self.metrics.job(job.spec.job_type).skipped.inc()
        if first and record is not None and _is_source_of(job.delivery, record):
            return self._announce_again(job, record)
        return Outcome.done(job.message)

    # -- recording outcomes ------------------------------------------------------------------

    def _record_successes(
        self, successes: dict[str, tuple[Job, Success]], book: Bookkeeping
    ) -> list[Outcome]:
        if self.is_closing():
            # Past the drain deadline: leave the job unfinished so the redelivery runs it, and
            # do not record a result that no lifecycle event would announce.
            return [Outcome.redeliver(job.message) for job, _ in successes.values()]
        results = {job_id: (job, success.result) for job_id, (job, success) in successes.items()}
        won = self._store_call(lambda: book.succeed(results))
        now = datetime.now(UTC)
        time_text = event_time(now)  # one clock reading and one formatting per unit
        # The announcements' ids in one call, handed out in job order as they are built.
        ids = iter(event_ids(sum(1 for job_id in successes if job_id in won)))
        namespace = self.records.namespace
        outcomes = []
        processed: dict[str, int] = {}
        skipped: dict[str, int] = {}
        for job_id, (job, success) in successes.items():
            job_type = job.spec.job_type
            if job_id not in won:  # another worker recorded this job's outcome first
                skipped[job_type] = skipped.get(job_type, 0) + 1
                outcomes.append(Outcome.done(job.message))
                continue
            processed[job_type] = processed.get(job_type, 0) + 1
            announcement = completed_record(
                job_id=job_id,
                job_type=job_type,
                event_type=job.spec.event_type.name,
                attempts=success.attempts,
                duration_ms=success.duration_s * 1e3,
                completed_at=now,
                result=success.result,
                started_by=job.event.envelope,
                namespace=namespace,
                trace=job.trace,
                time=time_text,
                event_id=next(ids),
            )
            if job.span is not None:
                job.span.set({"dpp.job.outcome": "succeeded", "dpp.job.attempts": success.attempts})
            outcomes.append(Outcome.done(job.message, announcement))
        # Counted per unit: a counter's lock per job cost more than the echo job itself.
        for job_type, count in processed.items():
            self.metrics.job(job_type).processed.inc(count)
        for job_type, count in skipped.items():
            self.metrics.job(job_type).skipped.inc(count)
        return outcomes

    def _record_failure(self, job: Job, record: JobRecord, failure: Failure) -> Outcome:
        spec = job.spec
        attempts = max(job.delivery.attempt, record.attempts)
        delivery = job.delivery.at_attempt(attempts)
        route, forwarded = self.records.forward(
            job.message, delivery, failure, job_topic=spec.event_type.topic, trace=job.trace
        )
        if job.span is not None:
            job.span.fail(failure.error_type, failure.message)
            job.span.set({"dpp.job.outcome": "dead" if route.dead else "retry"})
        error_text = f"{failure.error_type}: {failure.message}"
        changed = self._store_call(lambda: self.store.fail(job.job_id, error_text, dead=route.dead))
        self.metrics.job(spec.job_type).failed.inc()
        if not changed:  # already terminal: another worker finished it meanwhile
            return Outcome.done(job.message)
        if not route.dead:
            self.metrics.job(spec.job_type).retried.inc()
            return Outcome.done(job.message, forwarded)
        self.metrics.job(spec.job_type).dead_lettered.inc()
        announcement = failed_record(
            job_id=job.job_id,
            job_type=spec.job_type,
            event_type=spec.event_type.name,
            attempts=attempts,
            error_type=failure.error_type,
            error=failure.message,
            failed_at=datetime.now(UTC),
            started_by=job.event.envelope,
            namespace=self.records.namespace,
            trace=job.trace,
        )
        return Outcome.done(job.message, forwarded, announcement)

    def _announce_again(self, job: Job, record: JobRecord) -> Outcome:
        """The event that started a finished job came back: its offset was never committed,
        so (committing offsets and outcome records in one transaction) the outcome's records
        never became visible. Publish them again from the stored outcome; the job never reruns."""
        self.logger.info(
            "finished job redelivered; announcing its stored outcome",
            extra={"job_id": record.id, "status": record.status.value},
        )
        now = datetime.now(UTC)
        if record.status is JobStatus.SUCCEEDED:
            started, finished = record.started_at, record.finished_at
            duration_ms = (finished - started).total_seconds() * 1e3 if started and finished else 0
            announcement = completed_record(
                job_id=record.id,
                job_type=record.job_type,
                event_type=record.event_type,
                attempts=max(record.attempts, 1),
                duration_ms=max(duration_ms, 0.0),
                completed_at=finished or now,
                result=record.result or {},
                started_by=job.event.envelope,
                namespace=self.records.namespace,
                trace=job.trace,
            )
            return Outcome.done(job.message, announcement)
        error_type, _, message = (record.error or "Error: unknown").partition(": ")
        failure = Failure(error_type, message or error_type, retriable=False)
        _route, forwarded = self.records.forward(
            job.message, job.delivery.at_attempt(max(record.attempts, 1)), failure, trace=job.trace
        )
        announcement = failed_record(
            job_id=record.id,
            job_type=record.job_type,
            event_type=record.event_type,
            attempts=max(record.attempts, 1),
            error_type=error_type,
            error=message,
            failed_at=record.finished_at or now,
            started_by=job.event.envelope,
            namespace=self.records.namespace,
            trace=job.trace,
        )
        return Outcome.done(job.message, forwarded, announcement)

    def _dead_letter_undispatchable(self, item: Undispatchable) -> Outcome:
        message, delivery = item.message, item.delivery
        failure = Failure.of(item.error)
        _route, dead_letter = self.records.forward(message, delivery, failure, trace=item.trace)
        if item.span is not None:
            item.span.fail(failure.error_type, failure.message)
            item.span.set({"dpp.job.outcome": "dead"})
        records: list[KafkaRecord] = [dead_letter]
        job_id, event_type = message.header("ce_id"), message.header("ce_type") or ""
        correlation_id = message.header("ce_correlationid")
        spec = self.registry.get(event_type)
        job_type = spec.job_type if spec else UNKNOWN_JOB_TYPE
        self.logger.warning(
            "record dead-lettered",
            extra={
                "correlation_id": correlation_id,
                "job_id": job_id,
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "error_type": failure.error_type,
                "error": failure.message,
            },
        )
        self.metrics.job(job_type).dead_lettered.inc()
        if job_id and len(job_id) <= MAX_JOB_ID_CHARS:
            # The record names a job (even without a usable type): record its death so the job
            # API answers `dead` with the reason instead of a job that never started.
            records.extend(
                self._record_undispatchable_job(
                    job_id,
                    event_type=event_type,
                    spec=spec,
                    message=message,
                    delivery=delivery,
                    correlation_id=correlation_id,
                    failure=failure,
                    trace=item.trace,
                )
            )
        return Outcome.done(message, *records)

    def _record_undispatchable_job(
        self,
        job_id: str,
        *,
        event_type: str,
        spec: JobSpec | None,
        message: ConsumedRecord,
        delivery: Delivery,
        correlation_id: str | None,
        failure: Failure,
        trace: TraceHeaders | None,
    ) -> Sequence[KafkaRecord]:
        event_type = spec.event_type.name if spec else (event_type or UNKNOWN_JOB_TYPE)[:200]
        job_type = spec.job_type if spec else UNKNOWN_JOB_TYPE
        start = JobStart(
            job_id=job_id,
            event_type=event_type,
            job_type=job_type,
            topic=delivery.original_topic,
            partition=delivery.original_partition,
            offset=delivery.original_offset,
            correlation_id=correlation_id,
            owner=message.header(PUBLISHER_HEADER),
        )
        record = self._store_call(lambda: self.store.begin(start))
        if record.is_terminal:
            return ()
        error_text = f"{failure.error_type}: {failure.message}"
        if not self._store_call(lambda: self.store.fail(job_id, error_text, dead=True)):
            return ()
        return (
            failed_record(
                job_id=job_id,
                job_type=job_type,
                event_type=event_type,
                attempts=max(delivery.attempt, record.attempts),
                error_type=failure.error_type,
                error=failure.message,
                failed_at=datetime.now(UTC),
                started_by=None,
                namespace=self.records.namespace,
                trace=trace,
            ),
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _store_call(self, call: Callable[[], _T]) -> _T:
        """Run a store call, waiting out an unavailable database (this thread only; the poll
        loop keeps going and pauses partitions as work backs up)."""
        delay = 0.1
        while True:
            try:
                result = call()
            except StoreUnavailableError as error:
                if getattr(self._inline, "deferrable", False):
                    raise UnitDeferredError(
                        "job store unavailable; unit handed to a job thread"
                    ) from error
                if self.is_closing():
                    raise WorkerClosingError("store unavailable while closing") from error
                self.logger.warning("job store unavailable; retrying", extra={"error": str(error)})
                time.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_S)
            else:
                self._inline.deferrable = False
                return result
