"""Job throughput for the ops page: succeeded jobs per time bucket, read-only from the job store."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from dpp_store import JobStatus
from dpp_store.schema import jobs_table


@dataclass(frozen=True, slots=True)
class ThroughputBucket:
    """Jobs that finished in ``[start, start + width)``."""

    start: float
    width_s: float
    succeeded: int
    dead: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "width_s": self.width_s,
            "succeeded": self.succeeded,
            "dead": self.dead,
        }


def job_throughput(
    engine: Engine, *, now: datetime, buckets: int, width_s: float
) -> list[ThroughputBucket]:
    """Counts of jobs that finished (succeeded or dead) per bucket, oldest first. Buckets sit
    on multiples of ``width_s`` since the epoch, so they stay put from one read to the next,
    and the last one is the bucket ``now`` is in (still filling). One query; buckets are filled
    in Python so the query is the same on SQLite and PostgreSQL."""
    end = datetime.fromtimestamp(math.floor(now.timestamp() / width_s + 1) * width_s, UTC)
    since = end - timedelta(seconds=buckets * width_s)
    query = (
        select(jobs_table.c.status, jobs_table.c.finished_at)
        .where(jobs_table.c.finished_at >= since)
        .where(jobs_table.c.finished_at < end)
        .where(jobs_table.c.status.in_([JobStatus.SUCCEEDED.value, JobStatus.DEAD.value]))
    )
    succeeded = [0] * buckets
    dead = [0] * buckets
    with engine.connect() as connection:
        for status, finished_at in connection.execute(query):
            index = int((finished_at - since).total_seconds() // width_s)
            if 0 <= index < buckets:
                (succeeded if status == JobStatus.SUCCEEDED.value else dead)[index] += 1
    origin = since.timestamp()
    return [
        ThroughputBucket(origin + i * width_s, width_s, succeeded[i], dead[i])
        for i in range(buckets)
    ]


def job_counts(engine: Engine) -> dict[str, int]:
    """Number of jobs per status (all time)."""
    query = select(jobs_table.c.status, func.count()).group_by(jobs_table.c.status)
    with engine.connect() as connection:
        return {str(status): int(count) for status, count in connection.execute(query)}


def utc_now() -> datetime:
    return datetime.now(UTC)
