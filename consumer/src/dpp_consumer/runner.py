"""Runs one unit of records: decode, job-store bookkeeping, the handler, the outcome to publish."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from dpp_consumer import retry
from dpp_consumer.context import Cancellation, JobContext
from dpp_consumer.errors import ConsumerError, JobCancelledError
from dpp_consumer.jobs.registry import JobRegistry, JobSpec
from dpp_consumer.lifecycle import completed_record, failed_record
from dpp_consumer.metrics import WorkerMetrics
from dpp_consumer.records import ConsumedRecord
from dpp_consumer.retry import Delivery, Failure, RetryPolicy
from dpp_shared import headers as hdr
from dpp_shared.codec import DecodedEvent, KafkaRecord, decode
from dpp_shared.errors import EventDecodeError
from dpp_shared.events import REGISTRY, EventRegistry
from dpp_shared.topics import TopicNamespace
from dpp_store import (
    JobRecord,
    JobStart,
    JobStatus,
    JobStore,
    StoreError,
    StoreUnavailableError,
)

_T = TypeVar("_T")
STORE_RETRY_MAX_S = 5.0
UNKNOWN_JOB_TYPE = "unknown"


class WorkerClosingError(ConsumerError):
    """The worker is shutting down while a unit still waits for the store: abandon the unit."""


@dataclass
class Unit:
    """Records of one partition run together: one record, or a batch of a fast job."""

    topic: str
    partition: int
    records: list[ConsumedRecord]
    spec: JobSpec | None
    ordering_key: bytes | None = None
    cancellation: Cancellation = field(default_factory=Cancellation)


@dataclass(frozen=True)
class Outcome:
    """What became of one record. `finished` records count for the commit once `records`
    (lifecycle, retry or dead-letter records) are delivered; unfinished ones are redelivered."""

    topic: str
    partition: int
    offset: int
    finished: bool
    records: tuple[KafkaRecord, ...] = ()


@dataclass
class _Job:
    message: ConsumedRecord
    delivery: Delivery
    event: DecodedEvent
    spec: JobSpec

    @property
    def job_id(self) -> str:
        return self.event.envelope.id


@dataclass
class _Success:
    result: dict[str, Any]
    duration_s: float
    attempts: int


def dpp_headers(record: ConsumedRecord) -> dict[str, str]:
    """The record's `dpp-*` and `ce_*` headers as text."""
    return record.text_headers(hdr.HEADER_PREFIX, "ce_")


def _start(job: _Job) -> JobStart:
    return JobStart(
        job_id=job.job_id,
        event_type=job.spec.event_type.name,
        job_type=job.spec.job_type,
        topic=job.delivery.original_topic,
        partition=job.delivery.original_partition,
        offset=job.delivery.original_offset,
        correlation_id=job.event.envelope.correlationid,
    )


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
        store: JobStore,
        retry_policy: RetryPolicy,
        namespace: TopicNamespace,
        metrics: WorkerMetrics,
        logger: Logger,
        is_closing: Callable[[], bool],
        events: EventRegistry = REGISTRY,
    ) -> None:
        self.registry = registry
        self.store = store
        self.retry = retry_policy
        self.namespace = namespace
        self.metrics = metrics
        self.logger = logger
        self.is_closing = is_closing
        self.events = events

    # -- the unit ----------------------------------------------------------------------------

    def run(self, unit: Unit) -> list[Outcome]:
        outcomes: list[Outcome] = []
        jobs: list[_Job] = []
        for message in unit.records:
            delivery = (
                Delivery.of(message.topic, message.partition, message.offset, dpp_headers(message))
                if message.retried
                else Delivery(1, message.topic, message.partition, message.offset, None)
            )
            try:
                event = decode(message.value, message.headers, self.events)
            except EventDecodeError as error:
                outcomes.append(
                    self._dead_letter_undecodable(message, delivery, dpp_headers(message), error)
                )
                continue
            spec = self.registry.get(event.event_type.name)
            if spec is None:
                unhandled = EventDecodeError(
                    f"no job handles {event.event_type.name!r} on topic {message.topic!r}",
                    event_type=event.event_type.name,
                )
                outcomes.append(
                    self._dead_letter_undecodable(
                        message, delivery, dpp_headers(message), unhandled
                    )
                )
                continue
            jobs.append(_Job(message, delivery, event, spec))
        if jobs:
            outcomes.extend(self._run_jobs(unit, jobs))
        return outcomes

    def _run_jobs(self, unit: Unit, jobs: list[_Job]) -> list[Outcome]:
        if unit.spec is not None and unit.spec.batchable and isinstance(self.store, JobStore):
            return self._run_fast_jobs(unit, jobs)
        records = self._store_call(lambda: self.store.begin_many([_start(job) for job in jobs]))
        outcomes: list[Outcome] = []
        successes: dict[str, tuple[_Job, _Success]] = {}
        seen: set[str] = set()
        for job in jobs:
            record = records[job.job_id]
            if record.is_terminal or job.job_id in seen:
                outcomes.append(self._skipped(job, record, first=job.job_id not in seen))
                continue
            seen.add(job.job_id)
            if unit.cancellation.is_set:
                outcomes.append(self._abandoned(job.message))
                continue
            attempt = max(job.delivery.attempt, record.attempts)
            result = self._run_handler(job, attempt, unit.cancellation)
            if isinstance(result, _Success):
                successes[job.job_id] = (job, result)
            elif isinstance(result, Failure):
                outcomes.append(self._record_failure(job, record, result))
            else:
                outcomes.append(self._abandoned(job.message))
        if successes:
            outcomes.extend(self._record_successes(successes, self._succeed_started))
        return outcomes

    def _run_fast_jobs(self, unit: Unit, jobs: list[_Job]) -> list[Outcome]:
        """Batchable jobs: read their records (no write lock), run the handlers, then begin and
        succeed them in one transaction (`finish_many`), guarded so that a job another worker
        finished meanwhile gets no second result. Jobs that failed are begun, then failed."""
        store = self.store
        records = self._store_call(lambda: store.get_many([job.job_id for job in jobs]))
        outcomes: list[Outcome] = []
        successes: dict[str, tuple[_Job, _Success]] = {}
        failures: list[tuple[_Job, Failure]] = []
        seen: set[str] = set()
        for job in jobs:
            known = records.get(job.job_id)
            if (known is not None and known.is_terminal) or job.job_id in seen:
                outcomes.append(self._skipped(job, known, first=job.job_id not in seen))
                continue
            seen.add(job.job_id)
            if unit.cancellation.is_set:
                outcomes.append(self._abandoned(job.message))
                continue
            attempt = max(job.delivery.attempt, (known.attempts if known else 0) + 1)
            result = self._run_handler(job, attempt, unit.cancellation)
            if isinstance(result, _Success):
                successes[job.job_id] = (job, result)
            elif isinstance(result, Failure):
                failures.append((job, result))
            else:
                outcomes.append(self._abandoned(job.message))
        if successes:
            outcomes.extend(self._record_successes(successes, self._finish_fast))
        if failures:
            begun = self._store_call(lambda: store.begin_many([_start(job) for job, _ in failures]))
            for job, failure in failures:
                record = begun[job.job_id]
                if record.is_terminal:  # another worker finished it meanwhile
                    outcomes.append(self._finished(job.message))
                else:
                    outcomes.append(self._record_failure(job, record, failure))
        return outcomes

    def _skipped(self, job: _Job, record: JobRecord | None, *, first: bool) -> Outcome:
        """A redelivery (or a duplicate in this batch) of a finished job: not run again."""
        self.metrics.job(job.spec.job_type).skipped.inc()
        if first and record is not None and _is_source_of(job.delivery, record):
            return self._announce_again(job, record)
        return self._finished(job.message)

    def _succeed_started(self, successes: dict[str, tuple[_Job, _Success]]) -> set[str]:
        return self.store.succeed_many(
            {job_id: success.result for job_id, (_, success) in successes.items()}
        )

    def _finish_fast(self, successes: dict[str, tuple[_Job, _Success]]) -> set[str]:
        return self.store.finish_many(
            [_start(job) for job, _ in successes.values()],
            {job_id: success.result for job_id, (_, success) in successes.items()},
        )

    # -- one handler call --------------------------------------------------------------------

    def _run_handler(
        self, job: _Job, attempt: int, cancellation: Cancellation
    ) -> _Success | Failure | None:
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
            progress_sink=self._report_progress,
            checkpoint_loader=self.store.load_checkpoint,
            checkpoint_saver=self.store.save_checkpoint,
        )
        verbose = not spec.batchable
        if verbose:
            self.logger.thread_safe_append_keys(
                correlation_id=job.event.envelope.correlationid,
                job_id=job.job_id,
                job_type=spec.job_type,
                attempt=attempt,
            )
            self.logger.info("job started")
        in_flight = self.metrics.job(spec.job_type).in_flight
        in_flight.inc()
        started = time.perf_counter()
        try:
            produced = spec.handler(context)
            result = (
                produced
                if isinstance(produced, spec.result)
                else spec.result.model_validate(produced, from_attributes=True)
            )
            outcome: _Success | Failure | None = _Success(
                result.model_dump(mode="json"), time.perf_counter() - started, attempt
            )
        except JobCancelledError as error:
            self.logger.info("job cancelled", extra={"reason": str(error)})
            outcome = None
        except Exception as error:  # a job's failure must never stop the worker
            if cancellation.is_set:
                outcome = None  # it failed because it was asked to stop: not a real failure
            else:
                outcome = Failure.of(error)
                if not verbose:
                    self.logger.thread_safe_append_keys(
                        correlation_id=job.event.envelope.correlationid,
                        job_id=job.job_id,
                        job_type=spec.job_type,
                        attempt=attempt,
                    )
                self.logger.warning(
                    "job failed",
                    extra={"error_type": outcome.error_type, "retriable": outcome.retriable},
                    exc_info=True,
                )
                verbose = True
        finally:
            in_flight.dec()
            self.metrics.job(spec.job_type).duration.observe(time.perf_counter() - started)
        if verbose:
            if isinstance(outcome, _Success):
                self.logger.info("job succeeded", extra={"duration_ms": outcome.duration_s * 1e3})
            self.logger.thread_safe_clear_keys()
        return outcome

    def _report_progress(self, job_id: str, progress: float, message: str | None) -> None:
        try:
            self.store.report_progress(job_id, progress, message)
        except StoreError as error:  # progress is informative; losing one report is harmless
            self.logger.warning(
                "progress not recorded", extra={"job_id": job_id, "error": str(error)}
            )

    # -- recording outcomes ------------------------------------------------------------------

    def _record_successes(
        self,
        successes: dict[str, tuple[_Job, _Success]],
        record: Callable[[dict[str, tuple[_Job, _Success]]], set[str]],
    ) -> list[Outcome]:
        if self.is_closing():
            # Past the drain deadline: leave the job unfinished so the redelivery runs it, and
            # do not record a result that no lifecycle event would announce.
            return [self._abandoned(job.message) for job, _ in successes.values()]
        won = self._store_call(lambda: record(successes))
        now = datetime.now(UTC)
        outcomes = []
        for job_id, (job, success) in successes.items():
            if job_id not in won:  # another worker recorded this job's outcome first
                self.metrics.job(job.spec.job_type).skipped.inc()
                outcomes.append(self._finished(job.message))
                continue
            self.metrics.job(job.spec.job_type).processed.inc()
            announcement = completed_record(
                job_id=job_id,
                job_type=job.spec.job_type,
                event_type=job.spec.event_type.name,
                attempts=success.attempts,
                duration_ms=success.duration_s * 1e3,
                completed_at=now,
                result=success.result,
                started_by=job.event.envelope,
                namespace=self.namespace,
            )
            outcomes.append(self._finished(job.message, announcement))
        return outcomes

    def _record_failure(self, job: _Job, record: JobRecord, failure: Failure) -> Outcome:
        spec = job.spec
        attempts = max(job.delivery.attempt, record.attempts)
        delivery = Delivery(
            attempt=attempts,
            original_topic=job.delivery.original_topic,
            original_partition=job.delivery.original_partition,
            original_offset=job.delivery.original_offset,
            not_before=None,
        )
        route = self.retry.route(
            job_topic=spec.event_type.topic,
            delivery=delivery,
            failure=failure,
            headers=job.message.headers,
        )
        error_text = f"{failure.error_type}: {failure.message}"
        changed = self._store_call(lambda: self.store.fail(job.job_id, error_text, dead=route.dead))
        self.metrics.job(spec.job_type).failed.inc()
        if not changed:  # already terminal: another worker finished it meanwhile
            return self._finished(job.message)
        forwarded = KafkaRecord(
            topic=route.topic,
            key=job.message.key or b"",
            value=job.message.value or b"",
            headers=route.headers,
        )
        if not route.dead:
            self.metrics.job(spec.job_type).retried.inc()
            return self._finished(job.message, forwarded)
        self.metrics.job(spec.job_type).dead_lettered.inc()
        announcement = failed_record(
            job_id=job.job_id,
            job_type=spec.job_type,
            event_type=spec.event_type.name,
            attempts=attempts,
            error_type=failure.error_type,
            error=failure.message[: retry.MAX_ERROR_CHARS],
            failed_at=datetime.now(UTC),
            started_by=job.event.envelope,
            namespace=self.namespace,
        )
        return self._finished(job.message, forwarded, announcement)

    def _announce_again(self, job: _Job, record: JobRecord) -> Outcome:
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
                namespace=self.namespace,
            )
            return self._finished(job.message, announcement)
        error_type, _, message = (record.error or "Error: unknown").partition(": ")
        failure = Failure(error_type, message or error_type, retriable=False)
        delivery = Delivery(
            attempt=max(record.attempts, 1),
            original_topic=job.delivery.original_topic,
            original_partition=job.delivery.original_partition,
            original_offset=job.delivery.original_offset,
            not_before=None,
        )
        route = self.retry.route(
            job_topic=None, delivery=delivery, failure=failure, headers=job.message.headers
        )
        forwarded = KafkaRecord(
            route.topic, job.message.key or b"", job.message.value or b"", route.headers
        )
        announcement = failed_record(
            job_id=record.id,
            job_type=record.job_type,
            event_type=record.event_type,
            attempts=max(record.attempts, 1),
            error_type=error_type,
            error=message[: retry.MAX_ERROR_CHARS],
            failed_at=record.finished_at or now,
            started_by=job.event.envelope,
            namespace=self.namespace,
        )
        return self._finished(job.message, forwarded, announcement)

    def _dead_letter_undecodable(
        self,
        message: ConsumedRecord,
        delivery: Delivery,
        headers: dict[str, str],
        error: EventDecodeError,
    ) -> Outcome:
        failure = Failure.of(error)
        route = self.retry.route(
            job_topic=None, delivery=delivery, failure=failure, headers=message.headers
        )
        records: list[KafkaRecord] = [
            KafkaRecord(route.topic, message.key or b"", message.value or b"", route.headers)
        ]
        job_id, event_type = headers.get("ce_id"), headers.get("ce_type", "")
        spec = self.registry.get(event_type)
        job_type = spec.job_type if spec else UNKNOWN_JOB_TYPE
        self.logger.warning(
            "record dead-lettered",
            extra={
                "correlation_id": headers.get("ce_correlationid"),
                "job_id": job_id,
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "error_type": failure.error_type,
                "error": failure.message,
            },
        )
        self.metrics.job(job_type).dead_lettered.inc()
        if job_id and spec is not None:
            # The record names a job this worker knows: record its death so the job API
            # answers instead of showing a job that never started.
            records.extend(self._record_undecodable_job(job_id, spec, delivery, headers, failure))
        return self._finished(message, *records)

    def _record_undecodable_job(
        self,
        job_id: str,
        spec: JobSpec,
        delivery: Delivery,
        headers: dict[str, str],
        failure: Failure,
    ) -> Sequence[KafkaRecord]:
        start = JobStart(
            job_id=job_id,
            event_type=spec.event_type.name,
            job_type=spec.job_type,
            topic=delivery.original_topic,
            partition=delivery.original_partition,
            offset=delivery.original_offset,
            correlation_id=headers.get("ce_correlationid"),
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
                job_type=spec.job_type,
                event_type=spec.event_type.name,
                attempts=max(delivery.attempt, record.attempts),
                error_type=failure.error_type,
                error=failure.message[: retry.MAX_ERROR_CHARS],
                failed_at=datetime.now(UTC),
                started_by=None,
                namespace=self.namespace,
            ),
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _store_call(self, call: Callable[[], _T]) -> _T:
        """Run a store call, waiting out an unavailable database (this thread only; the poll
        loop keeps going and pauses partitions as work backs up)."""
        delay = 0.1
        while True:
            try:
                return call()
            except StoreUnavailableError as error:
                if self.is_closing():
                    raise WorkerClosingError("store unavailable while closing") from error
                self.logger.warning("job store unavailable; retrying", extra={"error": str(error)})
                time.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_S)

    @staticmethod
    def _finished(message: ConsumedRecord, *records: KafkaRecord) -> Outcome:
        return Outcome(message.topic, message.partition, message.offset, True, records)

    @staticmethod
    def _abandoned(message: ConsumedRecord) -> Outcome:
        return Outcome(message.topic, message.partition, message.offset, False)
