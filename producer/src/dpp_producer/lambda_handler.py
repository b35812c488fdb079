"""AWS Lambda entry point behind API Gateway v2 (HTTP API).

`POST /v1/events` and `/v1/events:batch` go straight to the ingest service
(`dpp_producer.lambda_ingest`), the code path the server's ASGI fast path takes: a cold start
imports neither FastAPI nor Mangum. Every other request goes to the same FastAPI app via Mangum,
built on first need and sharing the container's runtime (one Kafka producer). Powertools
supplies the Logger, Metrics (EMF) and Tracer around both.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from dpp_producer.correlation import CORRELATION_HEADER, first_correlation_id
from dpp_producer.lambda_ingest import ingest_route
from dpp_producer.log import logger as producer_logger

METRICS_NAMESPACE = "dpp-events"
# Peek into bodies up to this size for the envelope's correlationid (single events only).
_PEEK_LIMIT_BYTES = 256 * 1024

logger: Logger = producer_logger()
metrics = Metrics(namespace=METRICS_NAMESPACE, service=logger.service)
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


class EmfEventMetrics:
    """Reports produce outcomes as CloudWatch metrics (EMF lines flushed by `log_metrics`)."""

    def event_accepted(self, event_type: str, ack_latency_s: float) -> None:
        metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name="AckLatency", unit=MetricUnit.Milliseconds, value=ack_latency_s * 1000.0
        )

    def produce_error(self, reason: str) -> None:
        metrics.add_metric(name="ProduceErrors", unit=MetricUnit.Count, value=1)


class _Container:
    """What one Lambda execution environment keeps between invocations, built on first use:
    the runtime and the ingest path now, the FastAPI app only when a request needs it."""

    def __init__(self) -> None:
        from dpp_producer.lambda_ingest import LambdaIngest  # noqa: PLC0415 - measured cold start
        from dpp_producer.runtime import ProducerRuntime  # noqa: PLC0415
        from dpp_producer.settings import producer_settings  # noqa: PLC0415
        from dpp_shared.settings import (  # noqa: PLC0415
            aws_settings,
            kafka_settings,
            topic_settings,
        )

        self.runtime = ProducerRuntime.build(
            producer_settings(), kafka_settings(), aws_settings(), topic_settings()
        )
        self.runtime.metrics.sinks.append(EmfEventMetrics())
        self.ingest = LambdaIngest(self.runtime)
        self._app: Any = None
        self._adapter: Handler | None = None

    @property
    def app(self) -> Any:
        if self._app is None:
            from dpp_producer.app import create_app  # noqa: PLC0415 - off the ingest path

            self._app = create_app(manage_producer=False, runtime=self.runtime)
        return self._app

    @property
    def adapter(self) -> Handler:
        if self._adapter is None:
            from mangum import Mangum  # noqa: PLC0415 - off the ingest path
            from mangum.adapter import DEFAULT_TEXT_MIME_TYPES  # noqa: PLC0415

            # Problems are text too: without this Mangum would base64-encode them.
            text_types = [*DEFAULT_TEXT_MIME_TYPES, "application/problem+json"]
            mangum = Mangum(self.app, lifespan="off", text_mime_types=text_types)
            self._adapter = cast(Handler, mangum)
        return self._adapter


_container: _Container | None = None
_traced: Handler | None = None


def container() -> _Container:
    global _container  # noqa: PLW0603 - one per execution environment by design
    if _container is None:
        _container = _Container()
    return _container


if os.environ.get("LAMBDA_TASK_ROOT"):
    # On Lambda, build the app during the init phase (full CPU, before the first request); it
    # does not connect: the Kafka producer still starts on the first event.
    container()


def correlation_id(event: dict[str, Any]) -> str | None:
    """The request's X-Correlation-Id, else the envelope's `correlationid`, else the API Gateway
    request id."""
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    sent = headers.get(CORRELATION_HEADER)
    request_id = (event.get("requestContext") or {}).get("requestId")
    return first_correlation_id(
        str(sent) if sent is not None else None,
        _envelope_correlation_id(event),
        str(request_id) if request_id else None,
    )


def _envelope_correlation_id(event: dict[str, Any]) -> str | None:
    body = event.get("body")
    if not isinstance(body, str) or not body or len(body) > _PEEK_LIMIT_BYTES:
        return None
    try:
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        document = json.loads(raw)
    except (ValueError, binascii.Error, RecursionError):
        return None  # the app answers 400 for it
    value = document.get("correlationid") if isinstance(document, dict) else None
    return value if isinstance(value, str) and value else None


def tracing_enabled() -> bool:
    """X-Ray tracing runs on Lambda unless POWERTOOLS_TRACE_DISABLED says otherwise."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true")
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not disabled


def traced_handler() -> Handler:
    """`serve` wrapped by Powertools' Tracer, built on the first invocation and only where
    tracing is on: the X-Ray SDK imports botocore, the largest piece of a cold start."""
    global _traced  # noqa: PLW0603 - one per execution environment by design
    if _traced is None:
        if tracing_enabled():
            from aws_lambda_powertools import Tracer  # noqa: PLC0415

            tracer = Tracer(service=logger.service)
            _traced = tracer.capture_lambda_handler(serve, capture_response=False)
        else:
            _traced = serve
    return _traced


@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Lambda entry point (`dpp_producer.lambda_handler.handler`)."""
    return traced_handler()(event, context)


def serve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway v2 event in, API Gateway v2 response out."""
    current = container()
    correlation = correlation_id(event)
    logger.set_correlation_id(correlation)
    if correlation is not None:
        # The app then sees one correlation id whichever place it came from.
        event = {
            **event,
            "headers": {**(event.get("headers") or {}), CORRELATION_HEADER: correlation},
        }
    # One data point per invocation, so every EMF flush has a metric (and request counts).
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    route = ingest_route(event)
    response: dict[str, Any]
    if route is not None:
        response = current.ingest(event, route, correlation)
    else:
        response = current.adapter(event, context)
    tracing = current.runtime.tracing
    if tracing is not None:
        # The environment may freeze once this returns, with spans still in the batch.
        tracing.flush()
    # No flush here. Each request has already awaited its own records (at most the ack timeout)
    # before answering, so whatever is still queued belongs to a request that answered 503 and
    # gave it up to at-least-once delivery. Flushing would wait on those records again: the 503
    # came only after twice the ack timeout, and every later invocation, even a 401, waited on
    # the same undeliverable record (issue 13, defect 10).
    left = current.runtime.publisher.queue_depth()
    if left:
        logger.warning("earlier requests' records still queued", extra={"queued": left})
    return response
