"""The ops service's FastAPI app: the page, its JSON API under /api, and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from dpp_ops.errors import AccessDeniedError, DeadLetterNotFoundError
from dpp_ops.exporters import LagCollector
from dpp_ops.page.access import Caller, TokenVerifier, check_access
from dpp_ops.page.service import ActionUnavailableError, OpsService, UnknownJobTypeError
from dpp_ops.purge import IdempotencyPurger

ACTION_HEADER = "X-Requested-By"
"""Every action (POST) must carry this header: a cross-site form or fetch cannot set it
without a CORS preflight, which this app never grants, so a page elsewhere cannot make the
operator's browser act on the loopback service."""

_STATIC = {
    "index.html": "text/html; charset=utf-8",
    "ops.js": "text/javascript; charset=utf-8",
    "ops.css": "text/css; charset=utf-8",
}


def create_app(
    service: OpsService, *, verify: TokenVerifier | None = None, start: bool = True
) -> FastAPI:
    """The app over ``service``; with ``start`` the service samples while the app runs.
    ``verify`` checks bearer tokens when the settings ask for ``auth=jwt``."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start:
            service.start()
        try:
            yield
        finally:
            if start:
                service.stop()

    app = FastAPI(title="dpp ops", lifespan=lifespan, docs_url=None, redoc_url=None)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LagCollector(lambda: service.sampler.latest))
    if service.purger is not None:
        registry.register(PurgeCollector(service.purger))

    def authorised(authorization: Annotated[str | None, Header()] = None) -> None:
        check_access(service.settings, authorization, verify)

    reader = Depends(authorised)

    def acting(
        authorization: Annotated[str | None, Header()] = None,
        x_requested_by: Annotated[str | None, Header()] = None,
    ) -> Caller:
        caller = check_access(service.settings, authorization, verify, write=True)
        if not x_requested_by:
            raise HTTPException(400, f"actions need the {ACTION_HEADER} header")
        return caller

    actor = Depends(acting)

    @app.exception_handler(AccessDeniedError)
    async def denied(_request: Request, error: AccessDeniedError) -> JSONResponse:
        return JSONResponse(
            {"title": "Unauthorized" if error.status == 401 else "Forbidden",
             "status": error.status, "detail": error.detail},
            status_code=error.status,
            media_type="application/problem+json",
            headers={"WWW-Authenticate": "Bearer"} if error.status == 401 else None,
        )  # fmt: skip

    @app.get("/api/overview", dependencies=[reader])
    def overview() -> dict[str, Any]:
        """One sample: groups and partitions, series, throughput, dead letters."""
        return service.overview()

    @app.get("/api/groups", dependencies=[reader])
    def groups() -> dict[str, Any]:
        view = service.overview()
        return {key: view.get(key) for key in ("seq", "observed_at", "healthy", "groups")}

    @app.get("/api/series", dependencies=[reader])
    def series() -> dict[str, Any]:
        view = service.overview()
        return {"seq": view.get("seq"), "series": view.get("series", [])}

    @app.get("/api/throughput", dependencies=[reader])
    def throughput() -> dict[str, Any]:
        view = service.overview()
        return {"seq": view.get("seq"), **view.get("throughput", {})}

    @app.get("/api/dead-letters", dependencies=[reader])
    def dead_letters() -> dict[str, Any]:
        view = service.overview()
        return {"seq": view.get("seq"), **view.get("dead_letters", {})}

    @app.get("/api/maintenance", dependencies=[reader])
    def maintenance() -> dict[str, Any]:
        """The scheduled purge of expired idempotency keys (interval, last run, totals)."""
        return service.maintenance()

    @app.get("/api/whoami")
    def whoami(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        """Who the token names and whether the page should offer actions."""
        caller = check_access(service.settings, authorization, verify)
        can_write = "ops:write" in caller.scopes
        return {"subject": caller.subject, "scopes": sorted(caller.scopes), "can_write": can_write}

    @app.post("/api/dead-letters/{dead_letter_id}/replay")
    def replay_dead_letter(dead_letter_id: str, caller: Caller = actor) -> JSONResponse:
        """Replay one dead letter as a new job; 409 (with the reason) if it was replayed
        before or would only fail again."""
        try:
            plan = service.replay_dead_letter(dead_letter_id, by=caller.subject)
        except DeadLetterNotFoundError as error:
            raise HTTPException(404, str(error)) from None
        except ActionUnavailableError as error:
            raise HTTPException(503, str(error)) from None
        return JSONResponse(plan, status_code=409 if plan["skipped"] else 200)

    @app.post("/api/job-types/{job_type}/pause")
    def pause(job_type: str, caller: Caller = actor) -> dict[str, Any]:
        """Pause a job type: its workers stop fetching its topics until it is resumed."""
        return _switch(job_type, paused=True, by=caller.subject)

    @app.post("/api/job-types/{job_type}/resume")
    def resume(job_type: str, caller: Caller = actor) -> dict[str, Any]:
        return _switch(job_type, paused=False, by=caller.subject)

    def _switch(job_type: str, *, paused: bool, by: str) -> dict[str, Any]:
        try:
            return service.set_paused(job_type, paused, by)
        except UnknownJobTypeError as error:
            raise HTTPException(404, str(error)) from None
        except ActionUnavailableError as error:
            raise HTTPException(503, str(error)) from None

    @app.get("/metrics", dependencies=[reader])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "seq": service.overview().get("seq", 0)}

    @app.get("/")
    def page() -> Response:
        return _static("index.html")

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in _STATIC:
            return Response(status_code=404)
        return _static(name)

    return app


class PurgeCollector:
    """``dpp_idempotency_*``: what the scheduled purge did, for alerts on a purge that stopped."""

    def __init__(self, purger: IdempotencyPurger) -> None:
        self.purger = purger

    def collect(self) -> Iterator[Metric]:
        view = self.purger.view()
        purged = CounterMetricFamily(
            "dpp_idempotency_keys_purged", "Expired idempotency keys deleted by the ops service"
        )
        purged.add_metric([], view["purged_total"])
        failures = CounterMetricFamily(
            "dpp_idempotency_purge_failures", "Scheduled purges that failed"
        )
        failures.add_metric([], view["failures"])
        yield purged
        yield failures
        last = view["last"]
        if last is not None:
            stamp = GaugeMetricFamily(
                "dpp_idempotency_last_purge_timestamp_seconds", "When the last purge ran"
            )
            stamp.add_metric([], last["at"])
            yield stamp


def _static(name: str) -> Response:
    # The page is served, not built: three plain files shipped inside the package.
    body = files("dpp_ops.page").joinpath("static", name).read_bytes()
    return Response(body, media_type=_STATIC[name], headers={"Cache-Control": "no-store"})
