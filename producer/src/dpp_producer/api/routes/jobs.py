"""`GET /v1/jobs/{id}`: the status and result of the job an event started (job id == event id)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path

from dpp_producer.api.deps import CurrentPrincipal, Runtime
from dpp_producer.api.models import JobView
from dpp_producer.api.problems import problem_content
from dpp_producer.errors import NotFoundError
from dpp_producer.job_access import read_job

router = APIRouter(prefix="/v1", tags=["jobs"])


@router.get(
    "/jobs/{job_id}",
    response_model=JobView,
    summary="Status and result of a job",
    description="The job of an event this caller published (or any job, with a `jobs:read` "
    "scope), read from the consumer's job store. For the id of a 202 answer it is never 404: "
    "`queued` until a worker picks the event up. An id the caller chose itself finds the job "
    "once a worker has recorded it. Unknown and not-yours answer the same 404.",
    responses={
        401: problem_content("Missing or invalid bearer token"),
        404: problem_content("No job with this id that this caller may read"),
        429: problem_content("Per-client rate limit; retry after Retry-After"),
        422: problem_content("Invalid job id"),
        503: problem_content("Job store unavailable"),
    },
)
async def get_job(
    job_id: Annotated[str, Path(min_length=1, max_length=128, description="The event id")],
    principal: CurrentPrincipal,
    runtime: Runtime,
) -> dict[str, Any]:
    view = await asyncio.to_thread(
        lambda: read_job(runtime.job_store(), runtime.event_ids(), principal, job_id)
    )
    if view is None:
        # The same answer whether the job is unknown or someone else's (dpp_producer.job_access).
        raise NotFoundError(f"no job {job_id!r} for this caller")
    return view
