"""The app factory: builds the FastAPI app of the producer API (server and Lambda alike)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from dpp_producer.api.ingest_asgi import BATCH_PATH, SINGLE_PATH, IngestFastPath
from dpp_producer.api.middleware import RequestTelemetry
from dpp_producer.api.openapi import install_openapi
from dpp_producer.api.problems import install_problem_handler
from dpp_producer.api.routes import events, health, jobs
from dpp_producer.log import logger
from dpp_producer.runtime import ProducerRuntime
from dpp_producer.settings import ProducerSettings, producer_settings
from dpp_shared.settings import (
    AwsSettings,
    KafkaSettings,
    TopicSettings,
    aws_settings,
    kafka_settings,
    topic_settings,
)

API_VERSION = "1.0.0"
FLUSH_ON_SHUTDOWN_S = 10.0


def create_app(
    settings: ProducerSettings | None = None,
    *,
    kafka: KafkaSettings | None = None,
    topics: TopicSettings | None = None,
    aws: AwsSettings | None = None,
    manage_producer: bool = True,
    runtime: ProducerRuntime | None = None,
) -> FastAPI:
    """Build the app; nothing connects here. With `manage_producer` the lifespan starts the
    Kafka producer at startup and flushes it at shutdown (uvicorn); Lambda passes False and
    relies on the lazy start, each request awaiting its own acknowledgements. `runtime` shares
    one built elsewhere (the Lambda container's, whose ingest path serves without this app)."""
    runtime = runtime or ProducerRuntime.build(
        settings or producer_settings(),
        kafka or kafka_settings(),
        aws or aws_settings(),
        topics or topic_settings(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_producer:
            runtime.hs256_secret()  # fail at startup, not on the first request, if it is missing
            runtime.prepare_security()  # event id key, identity provider's keys
            logger()  # its import would otherwise land on the first request of each worker
            runtime.publisher.start()
        try:
            yield
        finally:
            if manage_producer:
                left = runtime.publisher.close(FLUSH_ON_SHUTDOWN_S)
                if left:
                    logger().error(
                        "records undelivered at shutdown (their requests got 503, never 202)",
                        extra={"undelivered": left},
                    )
                if runtime.tracing is not None:
                    runtime.tracing.shutdown()  # exports the spans still batched

    app = FastAPI(
        title="dpp-events producer API",
        version=API_VERSION,
        summary="Publish events to the Digital Persona Platform's Kafka backbone.",
        description="Every acknowledged event is durably on its topic (acks=all, idempotent "
        "producer). Errors are RFC 9457 problem+json. Authenticate with a bearer JWT whose "
        "`scope` names the event types you may publish (`events:*` for all).",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry spans stay off: DPP_TRACING is the one switch, and the
        # ingest paths (ASGI fast path, routes, Lambda) trace alike (dpp_shared.tracing).
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    app.state.runtime = runtime
    install_openapi(app)
    install_problem_handler(app)
    app.include_router(events.router)
    app.include_router(jobs.router)
    app.include_router(health.router)
    # Added first, so it runs innermost of the middleware: after telemetry and CORS, before
    # FastAPI's router (see api/ingest_asgi.py).
    app.add_middleware(IngestFastPath, runtime=runtime, routes=_ingest_routes())
    if runtime.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=runtime.settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-Id"],
            expose_headers=["Location", "Retry-After", "X-Correlation-Id", "Idempotent-Replayed"],
        )
    app.add_middleware(RequestTelemetry, metrics=runtime.metrics)
    return app


def _ingest_routes() -> dict[str, APIRoute]:
    wanted = {SINGLE_PATH, BATCH_PATH}
    routes = {
        route.path: route
        for route in events.router.routes
        if isinstance(route, APIRoute) and route.path in wanted and "POST" in (route.methods or ())
    }
    assert set(routes) == wanted, f"the events router lost a route: {sorted(routes)}"
    return routes


def create_served_app() -> Any:
    """The app as `dpp producer serve` runs it under granian: `create_app()` behind granian's
    proxy-headers wrapper, trusting `FORWARDED_ALLOW_IPS` (default 127.0.0.1) as uvicorn's
    `--proxy-headers` does. granian is a server-only dependency, imported here only."""
    from granian.utils.proxies import wrap_asgi_with_proxy_headers  # noqa: PLC0415

    trusted = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    hosts: str | list[str] = (
        "*"
        if trusted.strip() == "*"
        else [host.strip() for host in trusted.split(",") if host.strip()]
    )
    return wrap_asgi_with_proxy_headers(create_app(), trusted_hosts=hosts)


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, independent of the environment (it is committed)."""
    neutral = create_app(
        ProducerSettings.model_validate({"DPP_ENV": "sandbox"}),
        kafka=KafkaSettings(),
        topics=TopicSettings(),
        aws=AwsSettings(),
    )
    return neutral.openapi()
