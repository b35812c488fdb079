"""API Gateway v2 (HTTP API) events for `POST /v1/events` and `/v1/events:batch`, answered by
the ingest service directly: the Lambda hot path imports neither FastAPI nor Mangum.

The checks run in the order the routes' dependencies and body reader run them (principal and
its rate limit, Idempotency-Key, media type, declared length, body size), the answer carries the
headers the ASGI app would send (plus X-Correlation-Id and the RateLimit fields) in the response
shape Mangum writes, and the request is counted in the same metrics as the telemetry middleware
counts it."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from dpp_producer.correlation import CORRELATION_HEADER
from dpp_producer.errors import MalformedRequestError
from dpp_producer.ingest import (
    BATCH_MEDIA_TYPES,
    BATCH_PATH,
    SINGLE_MEDIA_TYPES,
    SINGLE_PATH,
    IngestRequest,
    Reply,
    body_too_large,
    caller_principal,
    check_declared_length,
    check_media_type,
    idempotency_key_of,
    problem_reply,
    publish_batch,
    publish_event,
)
from dpp_producer.rate_limit import rate_limit_headers
from dpp_producer.runtime import ProducerRuntime
from dpp_shared.ids import new_id

Publish = Callable[[ProducerRuntime, IngestRequest], Awaitable[Reply]]
_ROUTES: dict[str, tuple[Collection[str], Publish]] = {
    SINGLE_PATH: (SINGLE_MEDIA_TYPES, publish_event),
    BATCH_PATH: (BATCH_MEDIA_TYPES, publish_batch),
}


def ingest_route(event: dict[str, Any]) -> str | None:
    """The ingest path this event posts to, or None (any other request goes to the app)."""
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method")
    path = event.get("rawPath")
    return path if method == "POST" and path in _ROUTES else None


class LambdaIngest:
    """One per execution environment; keeps one event loop across invocations."""

    def __init__(self, runtime: ProducerRuntime) -> None:
        self.runtime = runtime
        self._loop = asyncio.new_event_loop()

    def __call__(
        self, event: dict[str, Any], path: str, correlation_id: str | None
    ) -> dict[str, Any]:
        started = time.perf_counter()
        headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
        correlation = correlation_id or _request_id(event) or new_id()
        limit_headers: dict[str, str] = {}
        try:
            reply = self._loop.run_until_complete(
                self._answer(event, headers, path, correlation, limit_headers)
            )
        except Exception as error:  # every error leaves as problem+json, as in the app
            reply = problem_reply(error, path)
        self.runtime.metrics.observe_request(
            "POST", path, reply.status, time.perf_counter() - started
        )
        response_headers = {name.lower(): value for name, value in reply.headers.items()}
        # The RateLimit fields of an allowed request go on whatever it is answered, as the
        # app's telemetry middleware adds them (a 429 carries its own).
        response_headers.update((name.lower(), value) for name, value in limit_headers.items())
        response_headers["content-length"] = str(len(reply.body))
        response_headers["content-type"] = reply.media_type
        response_headers[CORRELATION_HEADER] = correlation
        return {
            "statusCode": reply.status,
            "headers": response_headers,
            "body": reply.body.decode(),
            "isBase64Encoded": False,
        }

    async def _answer(
        self,
        event: dict[str, Any],
        headers: dict[str, str],
        path: str,
        correlation: str,
        limit_headers: dict[str, str],
    ) -> Reply:
        runtime = self.runtime
        media_types, publish = _ROUTES[path]
        principal = caller_principal(runtime, headers.get("authorization"))
        limit_headers.update(await rate_limit_headers(runtime.rate_limiter, principal))
        idempotency_key = idempotency_key_of(headers.get("idempotency-key"))
        check_media_type(headers.get("content-type"), media_types)
        max_bytes = runtime.settings.max_body_bytes
        check_declared_length(headers.get("content-length"), max_bytes)
        body = _body(event)
        if len(body) > max_bytes:
            raise body_too_large(max_bytes)
        request = IngestRequest(
            principal,
            correlation,
            idempotency_key,
            body,
            headers.get("traceparent"),
            headers.get("tracestate"),
        )
        return await publish(runtime, request)


def _request_id(event: dict[str, Any]) -> str | None:
    request_id = (event.get("requestContext") or {}).get("requestId")
    return str(request_id) if request_id else None


def _body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode() if isinstance(body, str) else bytes(body)
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedRequestError("the request body is not valid base64") from None
