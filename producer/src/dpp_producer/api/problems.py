"""The one exception handler: every error leaves the API as RFC 9457 problem+json."""

from __future__ import annotations

import json
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
)
from dpp_producer.ingest import PROBLEM_JSON, log_failure, producer_error_of
from dpp_shared.errors import DppError, FieldIssue

__all__ = ["PROBLEM_JSON", "as_producer_error", "install_problem_handler", "problem_response"]


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
    return producer_error_of(error)


async def handle_error(request: Request, error: Exception) -> Response:
    mapped = as_producer_error(error)
    if mapped.status >= 500:
        log_failure(request.url.path, error, mapped)
    return problem_response(mapped, instance=request.url.path)


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
