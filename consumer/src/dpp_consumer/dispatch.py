"""Dispatch: decode a unit's records and pair each event with the job that handles it; with
tracing on, each record's worker span starts here, the child of the record's trace context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dpp_consumer.jobs.registry import JobRegistry, JobSpec
from dpp_consumer.records import ConsumedRecord
from dpp_consumer.retry import Delivery
from dpp_shared import headers as hdr
from dpp_shared.codec import DecodedEvent, decode_many
from dpp_shared.errors import EventDecodeError
from dpp_shared.events import EventRegistry
from dpp_shared.tracing import TRACE_HEADER_NAMES, TraceHeaders, TraceSpan
from dpp_store import JobStart

if TYPE_CHECKING:
    from dpp_shared.tracing import Tracing

PUBLISHER_HEADER = hdr.PUBLISHER


@dataclass
class Job:
    """One decoded event and the job spec that runs it, with its place in the retry history."""

    message: ConsumedRecord
    delivery: Delivery
    event: DecodedEvent
    spec: JobSpec
    span: TraceSpan | None = None
    """The worker span (tracing on): consume -> job -> outcome."""
    job_id: str = field(init=False)
    """The event's id (read many times per job, so kept rather than looked up)."""

    def __post_init__(self) -> None:
        self.job_id = self.event.envelope.id

    @property
    def trace(self) -> TraceHeaders | None:
        """The trace context the job's outcome records carry on (None: tracing off)."""
        return None if self.span is None else self.span.headers

    def start(self) -> JobStart:
        """How the job store records this job's start (at its original topic position)."""
        delivery = self.delivery
        # Positional, in JobStart's field order, through `_make` (no Python-level `__new__`):
        # one is built for every job a fast unit finishes.
        return JobStart._make(
            (
                self.job_id,
                self.spec.event_type.name,
                self.spec.job_type,
                delivery.original_topic,
                delivery.original_partition,
                delivery.original_offset,
                self.event.envelope.correlationid,
                self.message.header(PUBLISHER_HEADER),
            )
        )


@dataclass(frozen=True)
class Undispatchable:
    """A record no job can run: not an event, or an event type no job of this worker handles."""

    message: ConsumedRecord
    delivery: Delivery
    error: EventDecodeError
    span: TraceSpan | None = None

    @property
    def trace(self) -> TraceHeaders | None:
        return None if self.span is None else self.span.headers


def worker_span(tracing: Tracing, message: ConsumedRecord, delivery: Delivery) -> TraceSpan:
    """The record's worker span: the child of its `traceparent`/`tracestate` headers."""
    carrier = {
        name: value for name in TRACE_HEADER_NAMES if (value := message.header(name)) is not None
    }
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": message.topic,
        "messaging.destination.partition.id": str(message.partition),
        "messaging.kafka.offset": message.offset,
        "dpp.attempt": delivery.attempt,
    }
    event_id = message.header("ce_id")
    if event_id is not None:
        attributes["messaging.message.id"] = event_id
    return tracing.start(
        f"process {delivery.original_topic}",
        kind="consumer",
        carrier=carrier,
        attributes=attributes,
    )


def dpp_headers(record: ConsumedRecord) -> dict[str, str]:
    """The record's `dpp-*` and `ce_*` headers as text."""
    return record.text_headers(hdr.HEADER_PREFIX, "ce_")


def delivery_of(message: ConsumedRecord) -> Delivery:
    """Where the record stands in its retry history: first attempt unless it is a retry copy."""
    found = message.attributes
    # Without any of these headers `Delivery.of` would answer exactly this first delivery.
    if (
        hdr.ATTEMPT in found
        or hdr.ORIGINAL_TOPIC in found
        or hdr.ORIGINAL_PARTITION in found
        or hdr.ORIGINAL_OFFSET in found
        or hdr.NOT_BEFORE in found
    ):
        return Delivery.of(message.topic, message.partition, message.offset, dpp_headers(message))
    return Delivery(1, message.topic, message.partition, message.offset, None)


def dispatch(
    messages: list[ConsumedRecord],
    registry: JobRegistry,
    events: EventRegistry,
    tracing: Tracing | None = None,
) -> tuple[list[Job], list[Undispatchable]]:
    """Split records into runnable jobs and records that can only be dead-lettered (each with
    its started worker span when `tracing` is on; the caller ends them)."""
    jobs: list[Job] = []
    rejected: list[Undispatchable] = []
    deliveries = [delivery_of(message) for message in messages]
    spans = (
        [None] * len(messages)
        if tracing is None
        else [worker_span(tracing, m, d) for m, d in zip(messages, deliveries, strict=True)]
    )
    # One pass over each record's headers (its `attributes`) serves decoding too.
    decoded = decode_many([(message.value, message.attributes) for message in messages], events)
    for message, delivery, span, event in zip(messages, deliveries, spans, decoded, strict=True):
        if isinstance(event, EventDecodeError):
            rejected.append(Undispatchable(message, delivery, event, span))
            continue
        spec = registry.get(event.event_type.name)
        if spec is None:
            unhandled = EventDecodeError(
                f"no job handles {event.event_type.name!r} on topic {message.topic!r}",
                event_type=event.event_type.name,
            )
            rejected.append(Undispatchable(message, delivery, unhandled, span))
            continue
        if span is not None:
            span.set({"dpp.job.type": spec.job_type, "dpp.job.id": event.envelope.id})
        jobs.append(Job(message, delivery, event, spec, span))
    return jobs, rejected


# `Job.start` passes JobStart's fields by position: fail at import if they move.
if JobStart._fields != (
    "job_id", "event_type", "job_type", "topic", "partition", "offset", "correlation_id", "owner"
):  # fmt: skip
    raise RuntimeError("JobStart's fields changed: update dpp_consumer.dispatch.Job.start")
