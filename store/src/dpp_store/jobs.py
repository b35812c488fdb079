"""The job store: one record per job, guarded status transitions, batched bookkeeping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import CursorResult, select, update

from dpp_store.batches import (
    IN_LIST_CHUNK,
    UNFINISHED,
    chunks,
    finish_jobs,
    known_ids,
    start_jobs,
    succeed_jobs,
)
from dpp_store.database import StoreDatabase, writes
from dpp_store.engine import translate_unavailable
from dpp_store.errors import JobNotFoundError
from dpp_store.records import RECORD_COLUMNS, JobRecord, JobStart
from dpp_store.schema import JobStatus, jobs_table

__all__ = ["JobRecord", "JobStart", "JobStore"]


class JobStore(StoreDatabase):
    """Job records in SQLite (embedded default) or PostgreSQL/Aurora, shared by every worker.

    Every terminal transition is guarded in SQL (`WHERE status NOT IN ('succeeded','dead')`),
    so of two workers racing on a redelivered event exactly one records the outcome.
    Connection failures raise StoreUnavailableError; the same store works again once the
    database is back (the pool pre-pings and replaces dead connections).
    """

    # -- reads -------------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord | None:
        with translate_unavailable("reading a job"), self.engine.connect() as connection:
            row = connection.execute(
                select(*RECORD_COLUMNS).where(jobs_table.c.id == job_id)
            ).first()
        return None if row is None else JobRecord.from_row(row)

    def get_many(self, job_ids: Iterable[str]) -> dict[str, JobRecord]:
        """The records of those of `job_ids` that exist, read without taking a write lock."""
        ids = list(dict.fromkeys(job_ids))
        records: dict[str, JobRecord] = {}
        if not ids:
            return records
        with translate_unavailable("reading jobs"), self.engine.connect() as connection:
            if self._single_writer:
                # Usually none exist yet (a worker asks before it runs fresh jobs): one id
                # probe of constant text, and full records only for the ids that exist, read
                # in the same transaction (one snapshot).
                found = known_ids(connection, ids)
                ids = [job_id for job_id in ids if job_id in found]
            for chunk in chunks(ids, IN_LIST_CHUNK):
                rows = connection.execute(select(*RECORD_COLUMNS).where(jobs_table.c.id.in_(chunk)))
                records.update((row.id, JobRecord.from_row(row)) for row in rows)
        return records

    def load_checkpoint(self, job_id: str) -> dict[str, Any] | None:
        """The last checkpoint saved by an earlier attempt, so a retry resumes from it."""
        with translate_unavailable("loading a checkpoint"), self.engine.connect() as connection:
            checkpoint: dict[str, Any] | None = connection.execute(
                select(jobs_table.c.checkpoint).where(jobs_table.c.id == job_id)
            ).scalar_one_or_none()
        return checkpoint

    # -- starting attempts -------------------------------------------------------------------

    def begin(self, start: JobStart) -> JobRecord:
        """Record that an attempt starts: create the job, or bump attempts and mark it running.

        A terminal job comes back unchanged: the event is a redelivery and the caller skips it.
        """
        return self.begin_many([start])[start.job_id]

    @writes
    def begin_many(self, starts: Iterable[JobStart]) -> dict[str, JobRecord]:
        """begin() for a batch in one transaction, with set-based statements (ON CONFLICT)."""
        unique = {start.job_id: start for start in starts}  # one row may be touched once
        if not unique:
            return {}
        now = self._now()
        with translate_unavailable("starting jobs"), self._writer.begin() as connection:
            records = start_jobs(connection, list(unique.values()), now)
            # Terminal jobs were left alone by the upsert; read them for the caller to skip.
            untouched = [job_id for job_id in unique if job_id not in records]
            for ids in chunks(untouched, IN_LIST_CHUNK):
                rows = connection.execute(select(*RECORD_COLUMNS).where(jobs_table.c.id.in_(ids)))
                records.update((row.id, JobRecord.from_row(row)) for row in rows)
        return records

    # -- progress ----------------------------------------------------------------------------

    @writes
    def report_progress(self, job_id: str, progress: float, message: str | None = None) -> None:
        """Record progress (0.0 to 1.0) of a job that has not finished; ignored once terminal."""
        if not 0.0 <= progress <= 1.0:
            raise ValueError(f"progress must be between 0.0 and 1.0, got {progress}")
        self._update_unfinished(
            "reporting progress",
            job_id,
            progress=progress,
            progress_message=message,
            updated_at=self._now(),
        )

    @writes
    def heartbeat(self, job_ids: Iterable[str]) -> int:
        """Touch ``updated_at`` of the RUNNING jobs among ``job_ids`` (a worker's jobs whose
        handlers run without reporting progress): their heartbeat, read by the lag status.
        Returns how many were touched; finished or unknown ids are left alone."""
        ids = sorted(set(job_ids))
        touched = 0
        now = self._now()
        with translate_unavailable("recording heartbeats"), self._writer.begin() as connection:
            for chunk in chunks(ids, IN_LIST_CHUNK):
                statement = (
                    update(jobs_table)
                    .where(jobs_table.c.id.in_(chunk))
                    .where(jobs_table.c.status == JobStatus.RUNNING.value)
                    .values(updated_at=now)
                )
                result: CursorResult[Any] = connection.execute(statement)
                touched += result.rowcount
        return touched

    @writes
    def save_checkpoint(
        self,
        job_id: str,
        checkpoint: dict[str, Any],
        *,
        progress: float | None = None,
        message: str | None = None,
    ) -> None:
        """Keep a JSON checkpoint of a running job so that its next attempt can resume. With
        `progress`, the progress the checkpoint stands for is written in the same statement, so
        no reader sees a checkpoint ahead of the job's progress."""
        values: dict[str, Any] = {"checkpoint": checkpoint, "updated_at": self._now()}
        if progress is not None:
            if not 0.0 <= progress <= 1.0:
                raise ValueError(f"progress must be between 0.0 and 1.0, got {progress}")
            values.update(progress=progress, progress_message=message)
        self._update_unfinished("saving a checkpoint", job_id, **values)

    # -- outcomes ----------------------------------------------------------------------------

    @writes
    def succeed(self, job_id: str, result: dict[str, Any]) -> bool:
        """Record the result; False if the job was already terminal (another worker won)."""
        now = self._now()
        statement = (
            update(jobs_table)
            .where(jobs_table.c.id == job_id, UNFINISHED)
            .values(
                status=JobStatus.SUCCEEDED.value,
                result=result,
                error=None,
                progress=1.0,
                updated_at=now,
                finished_at=now,
            )
        )
        with translate_unavailable("recording a result"), self._writer.begin() as connection:
            updated: CursorResult[Any] = connection.execute(statement)
            return updated.rowcount == 1

    @writes
    def succeed_many(self, results: Mapping[str, dict[str, Any]]) -> set[str]:
        """succeed() for a batch in one transaction; returns the ids that succeeded now."""
        if not results:
            return set()
        now = self._now()
        with translate_unavailable("recording results"), self._writer.begin() as connection:
            return succeed_jobs(connection, list(results.items()), now)

    @writes
    def finish_many(
        self, starts: Sequence[JobStart], results: Mapping[str, dict[str, Any]]
    ) -> set[str]:
        """begin() and succeed() in one statement and one transaction, for fast jobs that ran
        before their bookkeeping: new jobs are inserted as succeeded (attempt 1), unfinished
        ones move to succeeded with attempts bumped, terminal ones are left alone (no duplicate
        result). `results` holds a result for every job of `starts`; returns the ids that
        succeeded now.
        """
        unique = {start.job_id: start for start in starts}  # one row may be touched once
        if not unique:
            return set()
        rows = [(start, results[job_id]) for job_id, start in unique.items()]
        now = self._now()
        with translate_unavailable("recording results"), self._writer.begin() as connection:
            return finish_jobs(connection, rows, now)

    @writes
    def fail(self, job_id: str, error: str, *, dead: bool) -> bool:
        """Record a failed attempt: FAILED (a retry is scheduled) or, if dead, DEAD for good.

        Returns False, changing nothing, if the job was already terminal.
        """
        now = self._now()
        status = JobStatus.DEAD if dead else JobStatus.FAILED
        return self._update_unfinished(
            "recording a failure",
            job_id,
            status=status.value,
            error=error,
            updated_at=now,
            finished_at=now if dead else None,
        )

    # -- internals ---------------------------------------------------------------------------

    def _update_unfinished(self, operation: str, job_id: str, **values: Any) -> bool:
        statement = update(jobs_table).where(jobs_table.c.id == job_id, UNFINISHED).values(**values)
        with translate_unavailable(operation), self._writer.begin() as connection:
            updated: CursorResult[Any] = connection.execute(statement)
            if updated.rowcount == 1:
                return True
            exists = connection.execute(
                select(jobs_table.c.id).where(jobs_table.c.id == job_id)
            ).first()
        if exists is None:
            raise JobNotFoundError(job_id)
        return False
