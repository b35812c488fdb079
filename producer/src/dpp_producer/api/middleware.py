"""ASGI middleware: correlation id for every request, request count and latency by route."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dpp_producer.metrics import ProducerMetrics
from dpp_producer.rate_limit import RATE_LIMIT_STATE
from dpp_shared.ids import new_id

CORRELATION_HEADER = "x-correlation-id"
_MAX_CORRELATION_LENGTH = 128


def correlation_id_of(scope: Scope) -> str:
    """The caller's X-Correlation-Id, else API Gateway's request id (Lambda), else a new id."""
    for name, value in scope.get("headers", ()):
        if name == CORRELATION_HEADER.encode():
            text: str = value.decode("latin-1").strip()
            if text and len(text) <= _MAX_CORRELATION_LENGTH and text.isprintable():
                return text
    aws_event: Any = scope.get("aws.event")  # set by Mangum on Lambda
    if isinstance(aws_event, dict):
        request_id = aws_event.get("requestContext", {}).get("requestId")
        if isinstance(request_id, str) and request_id:
            return str(request_id)
    return new_id()


class RequestTelemetry:
    """Sets `request.state.correlation_id`, echoes it as X-Correlation-Id and records metrics
    labelled by the route template (not the raw path, which would explode cardinality)."""

    def __init__(self, app: ASGIApp, metrics: ProducerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = correlation_id_of(scope)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        started = time.perf_counter()
        status = 500

        async def send_with_header(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((CORRELATION_HEADER.encode(), correlation_id.encode("latin-1")))
                # RateLimit fields of an allowed request (dpp_producer.rate_limit).
                for name, value in scope["state"].get(RATE_LIMIT_STATE, {}).items():
                    headers.append((name.lower().encode(), value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(
                scope["method"], template, status, time.perf_counter() - started
            )
