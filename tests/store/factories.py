"""Builders for job-store tests: job starts and a clock that moves only when told."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dpp_store import JobStart


@dataclass
class ManualClock:
    """A clock that only moves when told, so expiry is tested without sleeping."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def job_start(job_id: str, offset: int = 0, *, topic: str = "persona.embedding") -> JobStart:
    return JobStart(
        job_id=job_id,
        event_type="persona.embedding.requested.v1",
        job_type="persona.embedding",
        topic=topic,
        partition=0,
        offset=offset,
        correlation_id=f"corr-{job_id}",
    )
