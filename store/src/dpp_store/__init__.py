"""Durable job records and idempotent answers: SQLite by default, PostgreSQL/Aurora in the cloud."""

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
