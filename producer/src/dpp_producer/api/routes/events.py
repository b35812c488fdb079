"""`POST /v1/events` and `POST /v1/events:batch`: admit, produce, answer with the broker's ack."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from dpp_producer.admission import AdmissionContext, AdmittedEvent, admit
from dpp_producer.api.body import read_json
from dpp_producer.api.deps import CorrelationId, CurrentPrincipal, IdempotencyKey, Runtime
from dpp_producer.api.event_schemas import event_schema
from dpp_producer.api.models import BatchEntry, BatchResult, EventAccepted, Problem
from dpp_producer.api.problems import problem_content
from dpp_producer.errors import BodyTooLargeError, EventRejectedError, ProducerError
from dpp_producer.idempotency import Answer, request_fingerprint
from dpp_producer.log import logger
from dpp_producer.publisher import Delivery
from dpp_producer.runtime import ProducerRuntime
from dpp_shared.errors import FieldIssue

router = APIRouter(prefix="/v1", tags=["events"])

SINGLE_MEDIA_TYPES = ("application/json", "application/cloudevents+json")
BATCH_MEDIA_TYPES = ("application/json", "application/cloudevents-batch+json")
JOBS_PATH = "/v1/jobs/"
SINGLE_ROUTE = "POST /v1/events"
BATCH_ROUTE = "POST /v1/events:batch"
_RETRYABLE = frozenset({429, 503})

# One envelope per known type, its payload schema inside (components added by api.openapi).
_ENVELOPE_SCHEMA = event_schema()
_COMMON_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_content("Malformed JSON or Idempotency-Key"),
    401: problem_content("Missing or invalid bearer token"),
    409: problem_content("Idempotency-Key reused with a different body"),
    413: problem_content("Body (or batch) too large"),
    415: problem_content("Content-Type not supported"),
    422: problem_content("Schema violation or unknown event type (lists the known types)"),
}


_EXAMPLE_EVENT = {
    "type": "demo.echo.requested.v1",
    "source": "urn:dpp:backend:persona-service",
    "correlationid": "req-7f3a",
    "data": {"session_id": "session-1", "message": "hello"},
}


def _request_body(
    media_types: tuple[str, ...], schema: dict[str, Any], example: Any
) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                media_type: {"schema": schema, "example": example} for media_type in media_types
            },
        }
    }


def _batch_request_body() -> dict[str, Any]:
    # Items are not constrained here: each is checked on its own and answered in its entry of
    # the 207 (one bad event never fails the others), so no item makes the request invalid.
    # Each should be one of the per-type event schemas of POST /v1/events.
    item = {
        "description": "One event, as the body of POST /v1/events (one of the `*Event` "
        "schemas, chosen by `type`); an invalid one gets a 422 entry in the 207 answer."
    }
    events = {"type": "array", "minItems": 1, "items": item}
    example = [_EXAMPLE_EVENT, {**_EXAMPLE_EVENT, "data": {"session_id": "session-2"}}]
    wrapped = {"type": "object", "required": ["events"], "properties": {"events": events}}
    return {
        "requestBody": {
            "required": True,
            "content": {
                # Under application/json the bare array is accepted too (as the code does).
                "application/json": {
                    "schema": {"anyOf": [wrapped, events]},
                    "example": {"events": example},
                },
                # CloudEvents JSON batch format: a bare array of events.
                "application/cloudevents-batch+json": {"schema": events, "example": example},
            },
        }
    }


def _accepted(admitted: AdmittedEvent, delivery: Delivery) -> EventAccepted:
    return EventAccepted(
        id=admitted.envelope.id,
        type=admitted.event_type.name,
        topic=delivery.topic,
        key=admitted.record.key.decode(),
        partition=delivery.partition,
        offset=delivery.offset,
        job=JOBS_PATH + admitted.envelope.id,
    )


async def _publish(runtime: ProducerRuntime, admitted: AdmittedEvent) -> Delivery:
    started = time.perf_counter()
    delivery = await runtime.publisher.publish(admitted.record)
    runtime.metrics.event_accepted(admitted.event_type.name, time.perf_counter() - started)
    logger().info("event accepted", extra=_accepted_fields(admitted, delivery))
    return delivery


def _accepted_fields(admitted: AdmittedEvent, delivery: Delivery) -> dict[str, Any]:
    return {
        "event_id": admitted.envelope.id,
        "event_type": admitted.event_type.name,
        "correlation_id": admitted.envelope.correlationid,
        "topic": delivery.topic,
        "partition": delivery.partition,
        "offset": delivery.offset,
    }


def _fingerprint(route: str, document: Any, idempotency_key: str | None) -> str | None:
    """Only a request with an Idempotency-Key needs its body hashed (a canonical re-encoding of
    the whole body: milliseconds for a large batch)."""
    return None if idempotency_key is None else request_fingerprint(route, document)


def _json_response(answer: Answer, headers: dict[str, str] | None = None) -> Response:
    response_headers = dict(headers or {})
    if answer.replayed:
        response_headers["Idempotent-Replayed"] = "true"
    return Response(
        answer.body,
        status_code=answer.status_code,
        media_type="application/json",
        headers=response_headers,
    )


async def _answer_once(
    runtime: ProducerRuntime, context: AdmissionContext, produce: Callable[[], Awaitable[Answer]]
) -> Answer:
    """Produce the answer, or replay the stored one when the request has an Idempotency-Key."""
    if context.idempotency_key is None or context.request_fingerprint is None:
        return await produce()
    return await runtime.idempotency.run(
        context.idempotency_key, context.principal.subject, context.request_fingerprint, produce
    )


@router.post(
    "/events",
    status_code=202,
    response_model=EventAccepted,
    summary="Publish one event",
    description="Validates the CloudEvents envelope and its payload, routes it to the topic and "
    "key of its type, and answers 202 once the broker has acknowledged it (acks=all).",
    responses={
        **_COMMON_PROBLEMS,
        403: problem_content("Token scope does not allow this event type"),
        429: problem_content(
            "Local produce queue full, or the client's rate limit; retry after Retry-After"
        ),
        502: problem_content("The broker refused the record for good"),
        503: problem_content("Broker did not acknowledge in time; retry after Retry-After"),
    },
    openapi_extra=_request_body(SINGLE_MEDIA_TYPES, _ENVELOPE_SCHEMA, _EXAMPLE_EVENT),
)
async def publish_event(
    request: Request,
    principal: CurrentPrincipal,
    runtime: Runtime,
    idempotency_key: IdempotencyKey,
    correlation_id: CorrelationId,
) -> Response:
    document = await read_json(
        request, max_bytes=runtime.settings.max_body_bytes, media_types=SINGLE_MEDIA_TYPES
    )
    fingerprint = _fingerprint(SINGLE_ROUTE, document, idempotency_key)
    context = AdmissionContext(
        principal,
        runtime.namespace,
        correlation_id,
        idempotency_key,
        fingerprint,
        runtime.settings.event_source,
        event_ids=runtime.event_ids(),
    )

    async def produce() -> Answer:
        admitted = admit(document, context)
        delivery = await _publish(runtime, admitted)
        return Answer(202, _accepted(admitted, delivery).model_dump_json().encode())

    answer = await _answer_once(runtime, context, produce)
    event_id = json.loads(answer.body)["id"]
    return _json_response(answer, {"Location": JOBS_PATH + event_id})


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


def _failure(index: int, item: Any, error: ProducerError) -> BatchEntry:
    event_id = item.get("id") if isinstance(item, dict) else None
    return BatchEntry(
        index=index,
        status=error.status,
        id=event_id if isinstance(event_id, str) else None,
        retryable=error.status in _RETRYABLE,
        error=Problem.model_validate(error.problem()),
    )


def _accepted_entry(index: int, admitted: AdmittedEvent, delivery: Delivery) -> BatchEntry:
    return BatchEntry(
        index=index,
        status=202,
        id=admitted.envelope.id,
        type=admitted.event_type.name,
        topic=delivery.topic,
        key=admitted.record.key.decode(),
        partition=delivery.partition,
        offset=delivery.offset,
    )


async def _publish_batch(
    runtime: ProducerRuntime, context: AdmissionContext, events: list[Any]
) -> list[BatchEntry]:
    """Admit every event, produce the admitted ones together and await their acknowledgements
    as one; one entry per event, in request order."""
    entries: list[BatchEntry | None] = [None] * len(events)
    admitted: list[tuple[int, AdmittedEvent]] = []
    for index, item in enumerate(events):
        try:
            admitted.append((index, admit(item, context, path=f"events.{index}", index=index)))
        except ProducerError as error:
            entries[index] = _failure(index, item, error)
    started = time.perf_counter()
    outcomes = await runtime.publisher.publish_many([event.record for _, event in admitted])
    ack_latency_s = time.perf_counter() - started
    accepted_by_type: Counter[str] = Counter()
    log = logger()
    verbose = log.log_level <= logging.DEBUG
    for (index, event), outcome in zip(admitted, outcomes, strict=True):
        if isinstance(outcome, ProducerError):
            entries[index] = _failure(index, events[index], outcome)
            continue
        entries[index] = _accepted_entry(index, event, outcome)
        accepted_by_type[event.event_type.name] += 1
        if verbose:
            log.debug("event accepted", extra=_accepted_fields(event, outcome))
    for event_type, count in accepted_by_type.items():
        runtime.metrics.events_accepted(event_type, count, ack_latency_s)
    # One line per request, not per event: at 500 events a request the log was the hot path.
    log.info(
        "batch accepted",
        extra={
            "accepted_count": sum(accepted_by_type.values()),
            "failed_count": len(events) - sum(accepted_by_type.values()),
            "event_types": sorted(accepted_by_type),
            "correlation_id": context.correlation_id,
            "ack_latency_ms": round(ack_latency_s * 1000.0, 3),
        },
    )
    return [entry for entry in entries if entry is not None]


@router.post(
    "/events:batch",
    status_code=207,
    response_model=BatchResult,
    summary="Publish a batch of events",
    description="Produces up to DPP_PRODUCER_MAX_BATCH events concurrently and answers 207 "
    "Multi-Status with one entry per event in request order: accepted (202, with its offset) or "
    "rejected (with its problem). One bad event never fails the others; `failed_count` says "
    "whether any did, and `retryable` marks the ones to resend.",
    responses={
        **_COMMON_PROBLEMS,
        503: problem_content("The idempotency store is unavailable; retry after Retry-After"),
    },
    openapi_extra=_batch_request_body(),
)
async def publish_batch(
    request: Request,
    principal: CurrentPrincipal,
    runtime: Runtime,
    idempotency_key: IdempotencyKey,
    correlation_id: CorrelationId,
) -> Response:
    document = await read_json(
        request, max_bytes=runtime.settings.max_body_bytes, media_types=BATCH_MEDIA_TYPES
    )
    events = _batch_events(document, runtime.settings.max_batch)
    fingerprint = _fingerprint(BATCH_ROUTE, document, idempotency_key)
    context = AdmissionContext(
        principal,
        runtime.namespace,
        correlation_id,
        idempotency_key,
        fingerprint,
        runtime.settings.event_source,
        event_ids=runtime.event_ids(),
    )

    async def produce() -> Answer:
        entries = await _publish_batch(runtime, context, events)
        failed = sum(1 for entry in entries if entry.status != 202)
        result = BatchResult(
            accepted_count=len(entries) - failed, failed_count=failed, entries=entries
        )
        return Answer(207, result.model_dump_json(exclude_none=True).encode())

    answer = await _answer_once(runtime, context, produce)
    return _json_response(answer)
