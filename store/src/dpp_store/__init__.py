"""Durable job records and idempotent answers: SQLite by default, PostgreSQL/Aurora in the cloud.

The names below load on first use (PEP 562), so importing a light submodule such as
`dpp_store.database_secret` on the producer Lambda's cold path does not import SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dpp_store.errors import (
        JobNotFoundError,
        StoreError,
        StoreMigrationError,
        StoreUnavailableError,
    )
    from dpp_store.idempotency import IdempotencyRecord, IdempotencyStore
    from dpp_store.jobs import JobRecord, JobStart, JobStore
    from dpp_store.rate_limits import RateLimitStore
    from dpp_store.schema import TERMINAL_STATUSES, JobStatus

_HOMES = {
    "JobNotFoundError": "dpp_store.errors",
    "StoreError": "dpp_store.errors",
    "StoreMigrationError": "dpp_store.errors",
    "StoreUnavailableError": "dpp_store.errors",
    "IdempotencyRecord": "dpp_store.idempotency",
    "IdempotencyStore": "dpp_store.idempotency",
    "JobRecord": "dpp_store.jobs",
    "JobStart": "dpp_store.jobs",
    "JobStore": "dpp_store.jobs",
    "RateLimitStore": "dpp_store.rate_limits",
    "TERMINAL_STATUSES": "dpp_store.schema",
    "JobStatus": "dpp_store.schema",
}

__all__ = [
    "TERMINAL_STATUSES",
    "IdempotencyRecord",
    "IdempotencyStore",
    "JobNotFoundError",
    "JobRecord",
    "JobStart",
    "JobStatus",
    "JobStore",
    "RateLimitStore",
    "StoreError",
    "StoreMigrationError",
    "StoreUnavailableError",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'dpp_store' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value
