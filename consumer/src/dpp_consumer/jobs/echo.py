"""The echo job: the walking skeleton and the no-op job of the throughput benchmark."""

from __future__ import annotations

from pydantic import BaseModel

from dpp_consumer.context import JobContext
from dpp_consumer.jobs.registry import job
from dpp_shared.events.payloads import DemoEchoRequestedV1


class EchoResult(BaseModel):
    session_id: str
    message: str


@job("demo.echo.requested.v1", result=EchoResult, job_type="echo", batchable=True, timeout_s=10.0)
def echo(ctx: JobContext[DemoEchoRequestedV1]) -> EchoResult:
    return EchoResult(session_id=ctx.payload.session_id, message=ctx.payload.message)
