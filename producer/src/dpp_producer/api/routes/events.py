"""`POST /v1/events` and `POST /v1/events:batch` as FastAPI documents them (the OpenAPI document)
and serves them where the ASGI fast path does not (`api/ingest_asgi.py`): thin routes over the
ingest service (`dpp_producer.ingest`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from dpp_producer.api.body import read_raw
from dpp_producer.api.deps import CorrelationId, CurrentPrincipal, IdempotencyKey, Runtime
from dpp_producer.api.event_schemas import event_schema
from dpp_producer.api.models import BatchResult, EventAccepted
from dpp_producer.api.problems import problem_content
from dpp_producer.ingest import (
    BATCH_MEDIA_TYPES,
    SINGLE_MEDIA_TYPES,
    IngestRequest,
    Reply,
)
from dpp_producer.ingest import (
    publish_batch as ingest_batch,
)
from dpp_producer.ingest import (
    publish_event as ingest_event,
)

router = APIRouter(prefix="/v1", tags=["events"])

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


def _response(reply: Reply) -> Response:
    return Response(
        reply.body, status_code=reply.status, media_type=reply.media_type, headers=reply.headers
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
    body = await read_raw(
        request, max_bytes=runtime.settings.max_body_bytes, media_types=SINGLE_MEDIA_TYPES
    )
    call = IngestRequest(
        principal,
        correlation_id,
        idempotency_key,
        body,
        request.headers.get("traceparent"),
        request.headers.get("tracestate"),
    )
    return _response(await ingest_event(runtime, call))


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
    body = await read_raw(
        request, max_bytes=runtime.settings.max_body_bytes, media_types=BATCH_MEDIA_TYPES
    )
    call = IngestRequest(
        principal,
        correlation_id,
        idempotency_key,
        body,
        request.headers.get("traceparent"),
        request.headers.get("tracestate"),
    )
    return _response(await ingest_batch(runtime, call))
