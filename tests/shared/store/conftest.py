"""Migrated stores over a fresh database per test, and a clock tests can move."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from dpp_shared.store import IdempotencyStore, JobStart, JobStore
from dpp_shared.store.engine import create_store_engine


@dataclass
class ManualClock:
    """A clock that only moves when told, so expiry is tested without sleeping."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def job_store(database_url: str) -> Iterator[JobStore]:
    store = JobStore.from_url(database_url)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def idempotency_store(database_url: str, clock: ManualClock) -> Iterator[IdempotencyStore]:
    store = IdempotencyStore(create_store_engine(database_url, pool_size=8), clock=clock)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


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
