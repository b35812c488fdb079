"""`GET /v1/jobs/{id}`: the status and result of the job an event started (job id == event id)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path

from dpp_producer.api.deps import CurrentPrincipal, Runtime
from dpp_producer.api.models import JobView
from dpp_producer.api.problems import problem_content
from dpp_producer.errors import NotFoundError

router = APIRouter(prefix="/v1", tags=["jobs"])


@router.get(
    "/jobs/{job_id}",
    response_model=JobView,
    summary="Status and result of a job",
    description="Read from the consumer's job store. 404 until a worker has picked the event up: "
    "an accepted event whose job is not found yet is still queued on its topic.",
    responses={
        401: problem_content("Missing or invalid bearer token"),
        404: problem_content("No job with this id (yet)"),
        422: problem_content("Invalid job id"),
        503: problem_content("Job store unavailable"),
    },
)
async def get_job(
    job_id: Annotated[str, Path(min_length=1, max_length=128, description="The event id")],
    principal: CurrentPrincipal,
    runtime: Runtime,
) -> dict[str, Any]:
    del principal  # any authenticated caller may read jobs; ids are unguessable UUIDv7s
    record = await asyncio.to_thread(_load, runtime, job_id)
    if record is None:
        raise NotFoundError(f"no job {job_id!r} (yet): a worker has not picked the event up")
    return record


def _load(runtime: Any, job_id: str) -> dict[str, Any] | None:
    record = runtime.job_store().get(job_id)
    return None if record is None else dict(record.as_dict())
