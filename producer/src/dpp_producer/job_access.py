"""Who may read which job, and what `GET /v1/jobs/{id}` answers for an accepted event that no
worker has picked up yet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dpp_producer.auth import Principal
from dpp_producer.event_ids import EventIds

if TYPE_CHECKING:
    from dpp_store import JobRecord, JobStore

JOBS_READ_SCOPE = "jobs:read"
"""Reads every job, whoever published it (operators, support tools)."""


def may_read(principal: Principal, record: JobRecord) -> bool:
    """The publisher of the event reads its job; a `jobs:read` token reads every job. A job with
    no recorded publisher (older than the owner column, or produced around the API) is read only
    with `jobs:read`."""
    if JOBS_READ_SCOPE in principal.scopes:
        return True
    return record.owner is not None and record.owner == principal.subject


def candidate_ids(event_ids: EventIds, principal: Principal, job_id: str) -> tuple[list[str], bool]:
    """The job ids `job_id` may stand for, for this caller, and whether the API issued it to
    this caller. An id the caller chose itself maps to its subject-scoped job id; the id as
    given is tried too (a `jobs:read` token, or a job recorded before ids were scoped)."""
    if event_ids.issued_to(principal.subject, job_id):
        return [job_id], True
    return [event_ids.scoped(principal.subject, job_id), job_id], False


def queued_view(job_id: str) -> dict[str, Any]:
    """An accepted event still on its topic: no job record exists yet."""
    return {"id": job_id, "status": "queued", "attempts": 0, "progress": 0.0}


def read_job(
    store: JobStore, event_ids: EventIds, principal: Principal, job_id: str
) -> dict[str, Any] | None:
    """The caller's view of a job, or None: unknown and refused look the same (404), so that a
    refusal never tells whether a job exists. Blocking (database); run it off the event loop."""
    candidates, issued = candidate_ids(event_ids, principal, job_id)
    records = store.get_many(candidates)
    for candidate in candidates:
        record = records.get(candidate)
        # An id the API issued to this caller proves that it published the event, whatever
        # the record says (one produced around the API may lack the publisher header).
        if record is not None and (issued or may_read(principal, record)):
            return dict(record.as_dict())
    if issued:
        # The API answered 202 with this id for this caller (only it can make the tag), and a
        # worker has not recorded the job yet: the event is queued, not unknown.
        return queued_view(job_id)
    return None
