"""The OpenAPI document: FastAPI's, plus the bearer-token scheme and the Problem schema."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dpp_producer.api.models import Problem

BEARER_SCHEME = "bearerAuth"
_PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def install_openapi(app: FastAPI) -> None:
    """Replace `app.openapi` so the served document and the committed one are the same."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.setdefault(
        "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for name, schema in (
        Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        .get("$defs", {})
        .items()
    ):
        schemas.setdefault(name, schema)
    schemas["Problem"].pop("$defs", None)
    components["securitySchemes"] = {
        BEARER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "HS256 JWT with `sub`, `exp` and `scope` (space-separated, e.g. "
            "`events:demo events:persona.embedding`; `events:*` allows every event type)",
        }
    }
    for path, operations in document.get("paths", {}).items():
        if path in _PUBLIC_PATHS:
            continue
        for operation in operations.values():
            operation["security"] = [{BEARER_SCHEME: []}]
            # The bearer scheme documents the header; a second, parameter copy would confuse.
            operation["parameters"] = [
                parameter
                for parameter in operation.get("parameters", [])
                if parameter.get("name", "").lower() != "authorization"
            ]
            if not operation["parameters"]:
                del operation["parameters"]
    return document


def render(document: dict[str, Any]) -> str:
    """The committed form: stable key order, two-space indents, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
