"""Reading a request body ourselves: content type (415) and size (413), whatever
Content-Length says; the JSON checks (400) are the ingest service's (`dpp_producer.ingest`)."""

from __future__ import annotations

from collections.abc import Collection

from starlette.requests import Request

from dpp_producer.ingest import body_too_large, check_declared_length, check_media_type


async def read_raw(request: Request, *, max_bytes: int, media_types: Collection[str]) -> bytes:
    """The body's bytes, read at most `max_bytes` (+1 chunk) into memory."""
    check_media_type(request.headers.get("content-type"), media_types)
    check_declared_length(request.headers.get("content-length"), max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise body_too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)
