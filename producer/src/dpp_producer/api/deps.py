"""Dependencies of the routes as `Annotated` aliases, so handler signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from dpp_producer.auth import Principal
from dpp_producer.ingest import caller_principal, idempotency_key_of
from dpp_producer.rate_limit import check_rate_limit
from dpp_producer.runtime import ProducerRuntime

# Every dependency is `async def`: none does I/O (the JWT secret is fetched once, at startup on
# uvicorn), and a plain `def` would cost a thread-pool round trip per dependency per request.


async def get_runtime(request: Request) -> ProducerRuntime:
    runtime: ProducerRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[ProducerRuntime, Depends(get_runtime)]


async def get_principal(
    request: Request,
    runtime: Runtime,
    authorization: Annotated[str | None, Header(description="Bearer <JWT>")] = None,
) -> Principal:
    principal = caller_principal(runtime, authorization)
    await check_rate_limit(request, runtime.rate_limiter, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Replays the first answer for the same body within the TTL; "
            "a different body with the same key is 409",
        ),
    ] = None,
) -> str | None:
    return idempotency_key_of(idempotency_key)


IdempotencyKey = Annotated[str | None, Depends(get_idempotency_key)]


async def get_correlation_id(request: Request) -> str:
    correlation_id: str = request.state.correlation_id
    return correlation_id


CorrelationId = Annotated[str, Depends(get_correlation_id)]
