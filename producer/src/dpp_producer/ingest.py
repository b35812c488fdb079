"""The ingest service: admit -> produce -> answer for `POST /v1/events` and `/v1/events:batch`.

One code path for every transport: the pure-ASGI fast path (`api/ingest_asgi.py`), the FastAPI
routes that document the API, and the Lambda handler all hand it an `IngestRequest` (who
called, the raw body) and send the `Reply` it returns. It imports neither FastAPI nor
Starlette, so a Lambda cold start does not pay for them."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_json

from dpp_producer.admission import AdmissionContext, AdmittedEvent, admit
from dpp_producer.auth import Principal, authenticate
from dpp_producer.errors import (
    BodyTooLargeError,
    EventRejectedError,
    MalformedRequestError,
    ProducerError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
)
from dpp_producer.idempotency import Answer, check_key, request_fingerprint
from dpp_producer.log import logger
from dpp_producer.publisher import Delivery
from dpp_producer.runtime import ProducerRuntime
from dpp_shared.errors import FieldIssue
from dpp_shared.tracing import TraceHeaders, TraceSpan, passthrough_headers

SINGLE_PATH = "/v1/events"
BATCH_PATH = "/v1/events:batch"
SINGLE_MEDIA_TYPES = ("application/json", "application/cloudevents+json")
BATCH_MEDIA_TYPES = ("application/json", "application/cloudevents-batch+json")
JOBS_PATH = "/v1/jobs/"
SINGLE_ROUTE = "POST /v1/events"
BATCH_ROUTE = "POST /v1/events:batch"
JSON_MEDIA_TYPE = "application/json"
PROBLEM_JSON = "application/problem+json"
_RETRYABLE = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """What the transport established before the body is admitted."""

    principal: Principal
    correlation_id: str | None
    idempotency_key: str | None
    body: bytes
    traceparent: str | None = None
    """The request's W3C `traceparent` header, as sent (checked where it is used)."""
    tracestate: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer for any transport: status, body, extra headers and media type."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = JSON_MEDIA_TYPE


# --- request checks every transport makes in the same order ---------------------------------


def caller_principal(runtime: ProducerRuntime, authorization: str | None) -> Principal:
    """Who calls (401 without a valid bearer token): the routes' dependency, the ASGI fast path
    and the Lambda path all ask here."""
    return authenticate(
        authorization,
        runtime.hs256_secret(),
        runtime.settings.jwt_audience,
        runtime.verified_tokens,
        runtime.identity_provider,
    )


def idempotency_key_of(header: str | None) -> str | None:
    """The request's Idempotency-Key, checked (400 when malformed), or None."""
    return None if header is None else check_key(header)


def media_type_of(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def check_media_type(content_type: str | None, media_types: Collection[str]) -> None:
    received = media_type_of(content_type)
    if received not in media_types:
        raise UnsupportedMediaTypeError(
            f"Content-Type must be one of {', '.join(media_types)}, not {received or 'missing'!r}",
            supported=list(media_types),
        )


def check_declared_length(declared: str | None, max_bytes: int) -> None:
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLargeError(f"body of {declared} bytes exceeds the limit of {max_bytes} bytes")


def body_too_large(max_bytes: int) -> BodyTooLargeError:
    return BodyTooLargeError(f"body exceeds the limit of {max_bytes} bytes")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """The parsed body; 400 when it is empty or not JSON (NaN and Infinity are not JSON)."""
    if not raw.strip():
        raise MalformedRequestError("the request body is empty", issues=[FieldIssue("$", "empty")])
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise MalformedRequestError(
            "the request body is not valid JSON",
            issues=[FieldIssue("$", f"{error.msg} at line {error.lineno} column {error.colno}")],
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise MalformedRequestError(
            "the request body is not valid JSON", issues=[FieldIssue("$", str(error))]
        ) from None


# --- errors ---------------------------------------------------------------------------------


def producer_error_of(error: Exception) -> ProducerError:
    """What anything raised while answering means for the client (FastAPI's own errors are
    mapped by `api.problems` before they get here)."""
    if isinstance(error, ProducerError):
        return error
    # The store module is imported lazily; if it raised, it is loaded.
    store_errors = sys.modules.get("dpp_store.errors")
    if store_errors is not None and isinstance(error, store_errors.StoreUnavailableError):
        return ServiceUnavailableError("the job store is unavailable; retry shortly")
    return ProducerError("an unexpected error occurred; it has been logged")


def log_failure(path: str, error: Exception, mapped: ProducerError) -> None:
    """A 5xx answer's log line, a traceback only for the unexpected. An outage the API answers
    as designed (503 while the broker is paused or the store is down, 502 when the broker
    refuses) logs one line per request with its reason: a traceback per request would flood
    the log during an outage."""
    extra = {"path": path, "status": mapped.status}
    if mapped.status == 500 and not isinstance(error, ProducerError):
        logger().exception("request failed", extra=extra)
        return
    reason = mapped.detail if error is mapped else f"{mapped.detail} ({error})"
    logger().warning("request answered %d: %s", mapped.status, reason, extra=extra)


def problem_reply(error: Exception, instance: str) -> Reply:
    """RFC 9457 problem+json for `error`; a 5xx is logged (`log_failure`)."""
    mapped = producer_error_of(error)
    if mapped.status >= 500:
        log_failure(instance, error, mapped)
    body = json.dumps(mapped.problem(instance), separators=(",", ":")).encode()
    return Reply(mapped.status, body, dict(mapped.headers), PROBLEM_JSON)


# --- the service ----------------------------------------------------------------------------


def _context(
    runtime: ProducerRuntime,
    request: IngestRequest,
    fingerprint: str | None,
    trace: TraceHeaders | None,
) -> AdmissionContext:
    return AdmissionContext(
        request.principal,
        runtime.namespace,
        request.correlation_id,
        request.idempotency_key,
        fingerprint,
        runtime.settings.event_source,
        event_ids=runtime.event_ids(),
        trace=trace,
    )


def _producer_span(runtime: ProducerRuntime, route: str, request: IngestRequest) -> TraceSpan:
    """The request's producer span (tracing on): the child of the caller's `traceparent`
    header, covering admit -> produce -> the broker's acknowledgement."""
    assert runtime.tracing is not None
    carrier = {}
    if request.traceparent is not None:
        carrier["traceparent"] = request.traceparent
        if request.tracestate is not None:
            carrier["tracestate"] = request.tracestate
    return runtime.tracing.start(
        route,
        kind="producer",
        carrier=carrier,
        attributes={"messaging.system": "kafka", "http.route": route.split(" ", 1)[1]},
    )


async def _traced(span: TraceSpan, answering: Awaitable[Reply]) -> Reply:
    """Await the answer inside `span`, which ends with it (ERROR and the answer's status when
    it failed)."""
    with span:
        try:
            reply = await answering
        except Exception as error:
            span.set({"http.response.status_code": producer_error_of(error).status})
            raise
        span.set({"http.response.status_code": reply.status})
        return reply


def _delivery_attributes(admitted: AdmittedEvent, delivery: Delivery) -> dict[str, str | int]:
    return {
        "messaging.destination.name": delivery.topic,
        "messaging.destination.partition.id": str(delivery.partition),
        "messaging.kafka.offset": delivery.offset,
        "messaging.message.id": admitted.event_id,
        "cloudevents.event_type": admitted.event_type.name,
    }


def _reply(answer: Answer, headers: dict[str, str] | None = None) -> Reply:
    response_headers = dict(headers or {})
    if answer.replayed:
        response_headers["Idempotent-Replayed"] = "true"
    return Reply(answer.status_code, answer.body, response_headers)


async def _answer_once(
    runtime: ProducerRuntime, context: AdmissionContext, produce: Callable[[], Awaitable[Answer]]
) -> Answer:
    """Produce the answer, or replay the stored one when the request has an Idempotency-Key."""
    if context.idempotency_key is None or context.request_fingerprint is None:
        return await produce()
    return await runtime.idempotency.run(
        context.idempotency_key, context.principal.subject, context.request_fingerprint, produce
    )


def _accepted_fields(admitted: AdmittedEvent, delivery: Delivery) -> dict[str, Any]:
    return {
        "event_id": admitted.event_id,
        "event_type": admitted.event_type.name,
        "correlation_id": admitted.correlation_id,
        "topic": delivery.topic,
        "partition": delivery.partition,
        "offset": delivery.offset,
    }


def _accepted_body(admitted: AdmittedEvent, delivery: Delivery) -> bytes:
    # The bytes `EventAccepted(...).model_dump_json()` writes, without building the model.
    return to_json(
        {
            "id": admitted.event_id,
            "type": admitted.event_type.name,
            "topic": delivery.topic,
            "key": admitted.record.key.decode(),
            "partition": delivery.partition,
            "offset": delivery.offset,
            "job": JOBS_PATH + admitted.event_id,
        }
    )


async def publish_event(runtime: ProducerRuntime, request: IngestRequest) -> Reply:
    """`POST /v1/events`: 202 with where the event landed, once the broker acknowledged it."""
    return await _in_trace(runtime, request, SINGLE_ROUTE, _publish_event)


_Publish = Callable[
    [ProducerRuntime, IngestRequest, TraceHeaders | None, TraceSpan | None], Awaitable[Reply]
]


async def _in_trace(
    runtime: ProducerRuntime, request: IngestRequest, route: str, publish: _Publish
) -> Reply:
    """Run `publish` in the request's producer span (tracing on), or hand it the caller's trace
    context to pass through to the records (tracing off: no span, nothing imported)."""
    if runtime.tracing is None:
        trace = None
        if request.traceparent is not None:
            trace = passthrough_headers(request.traceparent, request.tracestate)
        return await publish(runtime, request, trace, None)
    span = _producer_span(runtime, route, request)
    return await _traced(span, publish(runtime, request, span.headers, span))


async def _publish_event(
    runtime: ProducerRuntime,
    request: IngestRequest,
    trace: TraceHeaders | None,
    span: TraceSpan | None,
) -> Reply:
    admitted: AdmittedEvent | None = None
    fingerprint = None
    document: Any = None
    context = _context(runtime, request, None, trace)
    if request.idempotency_key is None:
        admitted = runtime.fast_admission().single(request.body, context)
    if admitted is None:
        document = parse_json(request.body)
        if request.idempotency_key is not None:
            # Only a request with an Idempotency-Key needs its body hashed (a canonical
            # re-encoding of the whole body).
            fingerprint = request_fingerprint(SINGLE_ROUTE, document)
            context = _context(runtime, request, fingerprint, trace)
    produced: list[str] = []

    async def produce() -> Answer:
        event = admitted if admitted is not None else admit(document, context)
        started = time.perf_counter()
        delivery = await runtime.publisher.publish(event.record)
        runtime.metrics.event_accepted(event.event_type.name, time.perf_counter() - started)
        logger().info("event accepted", extra=_accepted_fields(event, delivery))
        if span is not None:
            span.set(_delivery_attributes(event, delivery))
        produced.append(event.event_id)
        return Answer(202, _accepted_body(event, delivery))

    answer = await _answer_once(runtime, context, produce)
    # A replayed answer (Idempotency-Key, maybe another process's) names its id in its body.
    event_id = produced[0] if produced and not answer.replayed else json.loads(answer.body)["id"]
    return _reply(answer, {"Location": JOBS_PATH + event_id})


def _batch_events(document: Any, max_batch: int) -> list[Any]:
    events = document.get("events") if isinstance(document, dict) else document
    if not isinstance(events, list):
        raise EventRejectedError(
            'a batch is {"events": [<event>, ...]} (or a JSON array of events)',
            issues=[FieldIssue("events", "expected an array of events")],
        )
    if not events:
        raise EventRejectedError(
            "a batch needs at least one event", issues=[FieldIssue("events", "empty")]
        )
    if len(events) > max_batch:
        raise BodyTooLargeError(
            f"a batch holds at most {max_batch} events, this one has {len(events)}",
            max_batch=max_batch,
        )
    return events


def _failure_body(index: int, item: Any, error: ProducerError) -> bytes:
    from dpp_producer.api.models import BatchEntry, Problem  # noqa: PLC0415 - failures only

    event_id = item.get("id") if isinstance(item, dict) else None
    entry = BatchEntry(
        index=index,
        status=error.status,
        id=event_id if isinstance(event_id, str) else None,
        retryable=error.status in _RETRYABLE,
        error=Problem.model_validate(error.problem()),
    )
    return entry.model_dump_json(exclude_none=True).encode()


def _accepted_entry(index: int, admitted: AdmittedEvent, delivery: Delivery) -> dict[str, Any]:
    # `BatchEntry(...).model_dump_json(exclude_none=True)` of an accepted event, field order kept.
    return {
        "index": index,
        "status": 202,
        "id": admitted.event_id,
        "type": admitted.event_type.name,
        "topic": delivery.topic,
        "key": admitted.record.key.decode(),
        "partition": delivery.partition,
        "offset": delivery.offset,
        "retryable": False,
    }


async def _publish_batch(
    runtime: ProducerRuntime,
    context: AdmissionContext,
    events: list[Any] | None,
    admitted: list[tuple[int, AdmittedEvent]],
    entries: list[bytes | None],
    *,
    span: TraceSpan | None = None,
) -> bytes:
    """Produce the admitted events together, await their acknowledgements as one and answer
    with one entry per event, in request order (`entries` holds the admission failures)."""
    started = time.perf_counter()
    outcomes = await runtime.publisher.publish_many([event.record for _, event in admitted])
    ack_latency_s = time.perf_counter() - started
    accepted_by_type: Counter[str] = Counter()
    accepted: list[tuple[int, dict[str, Any]]] = []
    log = logger()
    verbose = log.log_level <= logging.DEBUG
    for (index, event), outcome in zip(admitted, outcomes, strict=True):
        if isinstance(outcome, ProducerError):
            entries[index] = _failure_body(
                index, None if events is None else events[index], outcome
            )
            continue
        accepted.append((index, _accepted_entry(index, event, outcome)))
        accepted_by_type[event.event_type.name] += 1
        if verbose:
            log.debug("event accepted", extra=_accepted_fields(event, outcome))
    for event_type, count in accepted_by_type.items():
        runtime.metrics.events_accepted(event_type, count, ack_latency_s)
    accepted_count = sum(accepted_by_type.values())
    if span is not None:
        span.set(
            {
                "messaging.batch.message_count": len(entries),
                "dpp.batch.accepted_count": accepted_count,
                "dpp.batch.failed_count": len(entries) - accepted_count,
            }
        )
    # One line per request, not per event: at 500 events a request the log was the hot path.
    log.info(
        "batch accepted",
        extra={
            "accepted_count": accepted_count,
            "failed_count": len(entries) - accepted_count,
            "event_types": sorted(accepted_by_type),
            "correlation_id": context.correlation_id,
            "ack_latency_ms": round(ack_latency_s * 1000.0, 3),
        },
    )
    if accepted_count == len(entries):
        # The usual case: one serializer call for the whole answer.
        return to_json(
            {
                "accepted_count": accepted_count,
                "failed_count": 0,
                "entries": [entry for _, entry in accepted],
            }
        )
    for index, entry in accepted:
        entries[index] = to_json(entry)
    parts = [entry for entry in entries if entry is not None]
    return b"".join(
        (
            b'{"accepted_count":%d,"failed_count":%d,"entries":['
            % (accepted_count, len(parts) - accepted_count),
            b",".join(parts),
            b"]}",
        )
    )


async def publish_batch(runtime: ProducerRuntime, request: IngestRequest) -> Reply:
    """`POST /v1/events:batch`: 207 with one entry per event, in request order."""
    return await _in_trace(runtime, request, BATCH_ROUTE, _publish_batch_request)


async def _publish_batch_request(
    runtime: ProducerRuntime,
    request: IngestRequest,
    trace: TraceHeaders | None,
    span: TraceSpan | None,
) -> Reply:
    max_batch = runtime.settings.max_batch
    fast: list[AdmittedEvent] | None = None
    context = _context(runtime, request, None, trace)
    if request.idempotency_key is None:
        fast = runtime.fast_admission().batch(request.body, context, max_batch)
    events: list[Any] | None = None
    if fast is None:
        document = parse_json(request.body)
        events = _batch_events(document, max_batch)
        if request.idempotency_key is not None:
            fingerprint = request_fingerprint(BATCH_ROUTE, document)
            context = _context(runtime, request, fingerprint, trace)

    async def produce() -> Answer:
        admitted: list[tuple[int, AdmittedEvent]] = []
        if fast is not None:
            entries: list[bytes | None] = [None] * len(fast)
            admitted = list(enumerate(fast))
        else:
            assert events is not None
            entries = [None] * len(events)
            for index, item in enumerate(events):
                try:
                    event = admit(item, context, path=f"events.{index}", index=index)
                except ProducerError as error:
                    entries[index] = _failure_body(index, item, error)
                    continue
                admitted.append((index, event))
        body = await _publish_batch(runtime, context, events, admitted, entries, span=span)
        return Answer(207, body)

    answer = await _answer_once(runtime, context, produce)
    return _reply(answer)
