"""Migrated stores over a fresh database per test, and a clock tests can move."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dpp_store import IdempotencyStore, JobStore
from dpp_store.engine import create_store_engine
from tests.store.factories import ManualClock


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
