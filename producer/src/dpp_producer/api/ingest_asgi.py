"""The ASGI fast path: `POST /v1/events` and `/v1/events:batch` served by the ingest service
without FastAPI's per-request machinery (routing, dependency solving, Request/Response objects).

It sits inside the telemetry and CORS middleware and before FastAPI's router, makes the checks
the routes' dependencies make (`api/deps.py`: token, rate limit, Idempotency-Key), in the same
order and through the same functions, and answers with the
bytes and headers a Starlette `Response` would send; every other request, and these paths under
a `root_path`, go on to FastAPI, which still owns the OpenAPI document and the routes."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dpp_producer.api.deps import get_idempotency_key
from dpp_producer.api.middleware import correlation_id_of
from dpp_producer.ingest import (
    BATCH_MEDIA_TYPES,
    BATCH_PATH,
    SINGLE_MEDIA_TYPES,
    SINGLE_PATH,
    IngestRequest,
    Reply,
    body_too_large,
    caller_principal,
    check_declared_length,
    check_media_type,
    problem_reply,
    publish_batch,
    publish_event,
)
from dpp_producer.rate_limit import RATE_LIMIT_STATE, rate_limit_headers
from dpp_producer.runtime import ProducerRuntime

_WANTED = (
    b"authorization",
    b"idempotency-key",
    b"content-type",
    b"content-length",
    b"traceparent",
    b"tracestate",
)


class _DisconnectedError(Exception):
    """The client went away before its body arrived: nothing to answer."""


class IngestFastPath:
    """Pure-ASGI middleware; `routes` maps each path to its FastAPI route, which it puts in
    the scope as the router would (the telemetry labels requests by `route.path`)."""

    def __init__(self, app: ASGIApp, runtime: ProducerRuntime, routes: dict[str, Any]) -> None:
        self.app = app
        self.runtime = runtime
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or path not in self.routes
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        scope["route"] = self.routes[path]
        try:
            reply = await self._answer(scope, receive, path)
        except _DisconnectedError:
            return
        except Exception as error:  # every error leaves as problem+json, as FastAPI's handler
            reply = problem_reply(error, path)
        headers = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                   for name, value in reply.headers.items()]  # fmt: skip
        headers.append((b"content-length", str(len(reply.body)).encode()))
        headers.append((b"content-type", reply.media_type.encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    async def _answer(self, scope: Scope, receive: Receive, path: str) -> Reply:
        found: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _WANTED and name not in found:
                found[name] = value.decode("latin-1")
        runtime = self.runtime
        # The routes' dependencies, in the order FastAPI solves them: principal (and its rate
        # limit, as `deps.get_principal`), then key.
        principal = caller_principal(runtime, found.get(b"authorization"))
        limit_headers = await rate_limit_headers(runtime.rate_limiter, principal)
        state = scope.setdefault("state", {})
        if limit_headers:
            # `RequestTelemetry` adds them to the answer, whatever it is (as for the routes).
            state[RATE_LIMIT_STATE] = limit_headers
        idempotency_key = await get_idempotency_key(found.get(b"idempotency-key"))
        correlation_id = state.get("correlation_id") or correlation_id_of(scope)
        single = path == SINGLE_PATH
        check_media_type(
            found.get(b"content-type"), SINGLE_MEDIA_TYPES if single else BATCH_MEDIA_TYPES
        )
        max_bytes = runtime.settings.max_body_bytes
        check_declared_length(found.get(b"content-length"), max_bytes)
        body = await _read_body(receive, max_bytes)
        request = IngestRequest(
            principal,
            correlation_id,
            idempotency_key,
            body,
            found.get(b"traceparent"),
            found.get(b"tracestate"),
        )
        if single:
            return await publish_event(runtime, request)
        return await publish_batch(runtime, request)


async def _read_body(receive: Receive, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > max_bytes:
                raise body_too_large(max_bytes)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


__all__ = ["BATCH_PATH", "SINGLE_PATH", "IngestFastPath"]
