"""Errors of the job and idempotency stores, rooted in DppError."""

from __future__ import annotations

from dpp_shared.errors import DppError


class StoreError(DppError):
    """Root of every job-store and idempotency-store error."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached or is busy; the caller may pause and retry the same call.

    Raised for connection loss, a server restart or an SQLite lock held past the busy timeout.
    No partial write is ever left behind: the transaction that failed was rolled back.
    """

    def __init__(self, operation: str, cause: BaseException) -> None:
        super().__init__(f"job store unavailable during {operation}: {cause}")
        self.operation = operation
        self.cause = cause


class JobNotFoundError(StoreError):
    """A job id that must already exist (progress, checkpoint, outcome) has no record."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job record with id {job_id!r}")
        self.job_id = job_id


class StoreMigrationError(StoreError):
    """The schema could not be brought to the head revision."""
