"""The one exception handler: every error leaves the API as RFC 9457 problem+json."""

from __future__ import annotations

import json
import sys
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dpp_producer.errors import (
    EventRejectedError,
    MalformedRequestError,
    MethodNotAllowedError,
    NotFoundError,
    ProducerError,
    ServiceUnavailableError,
)
from dpp_producer.log import logger
from dpp_shared.errors import DppError, FieldIssue

PROBLEM_JSON = "application/problem+json"


def problem_response(error: ProducerError, instance: str | None = None) -> Response:
    body = json.dumps(error.problem(instance), separators=(",", ":")).encode()
    return Response(body, status_code=error.status, media_type=PROBLEM_JSON, headers=error.headers)


def as_producer_error(error: Exception) -> ProducerError:
    """Map anything raised while answering to the producer's error it means for the client."""
    if isinstance(error, ProducerError):
        return error
    if isinstance(error, RequestValidationError):
        issues = [
            FieldIssue(".".join(str(part) for part in detail["loc"]), str(detail["msg"]))
            for detail in error.errors()
        ]
        return EventRejectedError("the request is invalid", issues=issues)
    if isinstance(error, HTTPException):
        if error.status_code == 405:
            return MethodNotAllowedError(str(error.detail), headers=dict(error.headers or {}))
        if error.status_code == 404:
            return NotFoundError("no such resource")
        return MalformedRequestError(str(error.detail), headers=dict(error.headers or {}))
    # The store module is imported lazily; if it raised, it is loaded.
    store_errors = sys.modules.get("dpp_store.errors")
    if store_errors is not None and isinstance(error, store_errors.StoreUnavailableError):
        return ServiceUnavailableError("the job store is unavailable; retry shortly")
    return ProducerError("an unexpected error occurred; it has been logged")


async def handle_error(request: Request, error: Exception) -> Response:
    mapped = as_producer_error(error)
    if mapped.status >= 500:
        _log_failure(request, error, mapped)
    return problem_response(mapped, instance=request.url.path)


def _log_failure(request: Request, error: Exception, mapped: ProducerError) -> None:
    """A traceback only for the unexpected. An outage the API answers as designed (503 while
    the broker is paused or the store is down, 502 when the broker refuses) logs one line per
    request with its reason: a traceback per request would flood the log during an outage."""
    extra = {"path": request.url.path, "status": mapped.status}
    if mapped.status == 500 and not isinstance(error, ProducerError):
        logger().exception("request failed", extra=extra)
        return
    reason = mapped.detail if error is mapped else f"{mapped.detail} ({error})"
    logger().warning("request answered %d: %s", mapped.status, reason, extra=extra)


def install_problem_handler(app: FastAPI) -> None:
    """Route every error type to the same handler (Starlette looks handlers up by class)."""
    for error_type in (DppError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(error_type, handle_error)


def problem_content(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry whose body is a Problem."""
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
