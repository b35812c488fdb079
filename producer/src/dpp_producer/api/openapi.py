"""The OpenAPI document: FastAPI's, plus the bearer-token scheme and the Problem schema."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dpp_producer.api.event_schemas import event_components
from dpp_producer.api.models import Problem
from dpp_producer.api.problems import problem_content
from dpp_producer.idempotency import KEY_PATTERN, MAX_KEY_LENGTH

BEARER_SCHEME = "bearerAuth"
_PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Exactly what `idempotency.check_key` enforces (400 otherwise).
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_KEY_LENGTH,
    "pattern": KEY_PATTERN,
}


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
    for name, schema in event_components().items():
        schemas.setdefault(name, schema)
    components["securitySchemes"] = {
        BEARER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "JWT with `sub`, `exp` and `scope` (space-separated, e.g. "
            "`events:demo events:persona.embedding`; `events:*` allows every event type; "
            "`jobs:read` reads every job): HS256 with the API's secret, or RS256/ES256 from the "
            "identity provider of JWT_JWKS_URL (checked for JWT_ISSUER and JWT_AUDIENCE)",
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
            for parameter in operation["parameters"]:
                if parameter.get("name") == "Idempotency-Key":
                    parameter["schema"] = IDEMPOTENCY_KEY_SCHEMA
            if not operation["parameters"]:
                del operation["parameters"]
            # Any authenticated request may meet its client's rate limit (dpp_producer.rate_limit).
            operation.setdefault("responses", {}).setdefault(
                "429", problem_content("Too many requests; retry after Retry-After")
            )
    return document


def render(document: dict[str, Any]) -> str:
    """The committed form: stable key order, two-space indents, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
