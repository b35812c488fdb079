"""Reading a JSON request body ourselves: content type (415), size (413) and syntax (400)."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from starlette.requests import Request

from dpp_producer.errors import BodyTooLargeError, MalformedRequestError, UnsupportedMediaTypeError
from dpp_shared.errors import FieldIssue


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json(request: Request, *, max_bytes: int, media_types: Collection[str]) -> Any:
    """The parsed body, read at most `max_bytes` (+1) into memory whatever Content-Length says."""
    received = media_type(request)
    if received not in media_types:
        raise UnsupportedMediaTypeError(
            f"Content-Type must be one of {', '.join(media_types)}, not {received or 'missing'!r}",
            supported=list(media_types),
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLargeError(f"body of {declared} bytes exceeds the limit of {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLargeError(f"body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise MalformedRequestError("the request body is empty", issues=[FieldIssue("$", "empty")])
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise MalformedRequestError(
            "the request body is not valid JSON",
            issues=[FieldIssue("$", f"{error.msg} at line {error.lineno} column {error.colno}")],
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise MalformedRequestError(
            "the request body is not valid JSON", issues=[FieldIssue("$", str(error))]
        ) from None
