"""The ops service's FastAPI app: the page, its JSON API under /api, and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from dpp_ops.errors import AccessDeniedError
from dpp_ops.exporters import LagCollector
from dpp_ops.page.access import TokenVerifier, check_access
from dpp_ops.page.service import OpsService

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

    def authorised(authorization: Annotated[str | None, Header()] = None) -> None:
        check_access(service.settings, authorization, verify)

    reader = Depends(authorised)

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


def _static(name: str) -> Response:
    # The page is served, not built: three plain files shipped inside the package.
    body = files("dpp_ops.page").joinpath("static", name).read_bytes()
    return Response(body, media_type=_STATIC[name], headers={"Cache-Control": "no-store"})
