"""ASGI middleware: correlation id for every request, request count and latency by route."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dpp_producer.correlation import CORRELATION_HEADER, first_correlation_id
from dpp_producer.metrics import ProducerMetrics
from dpp_producer.rate_limit import RATE_LIMIT_STATE
from dpp_shared.ids import new_id

_HEADER_BYTES = CORRELATION_HEADER.encode()


def correlation_id_of(scope: Scope) -> str:
    """The caller's X-Correlation-Id, else API Gateway's request id (Lambda), else a new id."""
    header = next(
        (v.decode("latin-1") for n, v in scope.get("headers", ()) if n == _HEADER_BYTES), None
    )
    aws_event: Any = scope.get("aws.event")  # set by Mangum on Lambda
    request_id = None
    if isinstance(aws_event, dict):
        found = aws_event.get("requestContext", {}).get("requestId")
        request_id = found if isinstance(found, str) else None
    return first_correlation_id(header, request_id) or new_id()


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
