"""`/healthz` (alive), `/readyz` (broker reachable, cached) and `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from dpp_producer.api.deps import Runtime
from dpp_producer.api.models import Health

router = APIRouter(tags=["health"])

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="The broker is reachable",
    description="A metadata request to the broker, bounded by DPP_PRODUCER_READINESS_TIMEOUT_S "
    "and cached for DPP_PRODUCER_READINESS_CACHE_S so probes stay cheap.",
    responses={503: {"model": Health, "description": "Broker unreachable"}},
)
async def readyz(runtime: Runtime, response: Response) -> Health:
    settings = runtime.settings
    reachable = await asyncio.to_thread(
        runtime.publisher.broker_reachable,
        timeout_s=settings.readiness_timeout_s,
        cache_s=settings.readiness_cache_s,
    )
    if not reachable:
        response.status_code = 503
        response.headers["Retry-After"] = str(settings.retry_after_s)
        return Health(status="unavailable", checks={"broker": "unreachable"})
    return Health(status="ok", checks={"broker": "reachable"})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {PROMETHEUS_TEXT: {"schema": {"type": "string"}}}}},
)
async def metrics(runtime: Runtime) -> Response:
    return Response(runtime.metrics.exposition(), media_type=PROMETHEUS_TEXT)
