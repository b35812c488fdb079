"""The job store: one record per job, guarded status transitions, batched bookkeeping."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Self, TypeVar

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Row,
    TextClause,
    bindparam,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningInsert

from dpp_shared.store.clock import utc_now as _utc_now
from dpp_shared.store.engine import WRITE_OPTION, create_store_engine, translate_unavailable
from dpp_shared.store.errors import JobNotFoundError
from dpp_shared.store.migration import upgrade_to_head
from dpp_shared.store.schema import TERMINAL_STATUSES, JobStatus, UtcDateTime, jobs_table

# Inlined as SQL literals rather than an expanding IN parameter, which executemany forbids.
_UNFINISHED = jobs_table.c.status.not_in(
    [literal_column(f"'{status.value}'") for status in sorted(TERMINAL_STATUSES)]
)
# Rows per statement in batched calls: SQLite allows 32766 bound parameters, PostgreSQL 65535.
_BATCH_ROWS = 500

_T = TypeVar("_T")


@dataclass(frozen=True)
class JobStart:
    """Everything known about a job when a worker picks up the event that started it."""

    job_id: str
    event_type: str
    job_type: str
    topic: str
    partition: int
    offset: int
    correlation_id: str | None = None


@dataclass(frozen=True)
class JobRecord:
    """A snapshot of one job as stored."""

    id: str
    event_type: str
    job_type: str
    status: JobStatus
    attempts: int
    progress: float
    progress_message: str | None
    result: dict[str, Any] | None
    error: str | None
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    correlation_id: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def is_terminal(self) -> bool:
        """SUCCEEDED or DEAD: the job never runs again and its outcome never changes."""
        return self.status in TERMINAL_STATUSES

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (ISO 8601 timestamps), as served by GET /v1/jobs/{id}."""
        return {
            "id": self.id,
            "event_type": self.event_type,
            "job_type": self.job_type,
            "status": self.status.value,
            "attempts": self.attempts,
            "progress": self.progress,
            "progress_message": self.progress_message,
            "result": self.result,
            "error": self.error,
            "source": {
                "topic": self.source_topic,
                "partition": self.source_partition,
                "offset": self.source_offset,
            },
            "correlation_id": self.correlation_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }

    @classmethod
    def from_row(cls, row: Row[Any]) -> JobRecord:
        values = row._mapping
        return cls(
            id=values["id"],
            event_type=values["event_type"],
            job_type=values["job_type"],
            status=JobStatus(values["status"]),
            attempts=values["attempts"],
            progress=values["progress"],
            progress_message=values["progress_message"],
            result=values["result"],
            error=values["error"],
            source_topic=values["source_topic"],
            source_partition=values["source_partition"],
            source_offset=values["source_offset"],
            correlation_id=values["correlation_id"],
            created_at=values["created_at"],
            updated_at=values["updated_at"],
            started_at=values["started_at"],
            finished_at=values["finished_at"],
        )


_RECORD_COLUMNS = [jobs_table.c[name] for name in JobRecord.__dataclass_fields__]


class JobStore:
    """Job records in SQLite (embedded default) or PostgreSQL/Aurora, shared by every worker.

    Every terminal transition is guarded in SQL (`WHERE status NOT IN ('succeeded','dead')`),
    so of two workers racing on a redelivered event exactly one records the outcome.
    Connection failures raise StoreUnavailableError; the same store works again once the
    database is back (the pool pre-pings and replaces dead connections).
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.engine = engine
        self._now = clock  # injectable so tests can move time instead of sleeping
        self._writer = engine.execution_options(**{WRITE_OPTION: True})

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        pool_size: int = 2,
        max_overflow: int = 3,
        clock: Callable[[], datetime] = _utc_now,
    ) -> Self:
        """A store over DATABASE_URL; connects lazily, on the first call that needs it."""
        engine = create_store_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        return cls(engine, clock=clock)

    def migrate(self) -> None:
        """Create or upgrade the schema (Alembic upgrade head); idempotent and concurrency-safe."""
        upgrade_to_head(self.engine)

    def close(self) -> None:
        """Close pooled connections; the store reconnects if used again."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reads -------------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord | None:
        with translate_unavailable("reading a job"), self.engine.connect() as connection:
            row = connection.execute(
                select(*_RECORD_COLUMNS).where(jobs_table.c.id == job_id)
            ).first()
        return None if row is None else JobRecord.from_row(row)

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

    def begin_many(self, starts: Iterable[JobStart]) -> dict[str, JobRecord]:
        """begin() for a batch in one transaction, with set-based statements (ON CONFLICT)."""
        unique = {start.job_id: start for start in starts}  # one row may be touched once
        if not unique:
            return {}
        now = self._now()
        records: dict[str, JobRecord] = {}
        with translate_unavailable("starting jobs"), self._writer.begin() as connection:
            upsert = _upsert_running(connection.dialect.name)
            for chunk in _chunks(list(unique.values()), _BATCH_ROWS):
                started = connection.execute(upsert, [_running_row(start, now) for start in chunk])
                for row in started:
                    record = JobRecord.from_row(row)
                    records[record.id] = record
            # The upsert returns the rows it inserted or updated; terminal ones it left alone.
            untouched = [job_id for job_id in unique if job_id not in records]
            for ids in _chunks(untouched, _BATCH_ROWS):
                for row in connection.execute(
                    select(*_RECORD_COLUMNS).where(jobs_table.c.id.in_(ids))
                ):
                    record = JobRecord.from_row(row)
                    records[record.id] = record
        return records

    # -- progress ----------------------------------------------------------------------------

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

    def save_checkpoint(self, job_id: str, checkpoint: dict[str, Any]) -> None:
        """Keep a JSON checkpoint of a running job so that its next attempt can resume."""
        self._update_unfinished(
            "saving a checkpoint", job_id, checkpoint=checkpoint, updated_at=self._now()
        )

    # -- outcomes ----------------------------------------------------------------------------

    def succeed(self, job_id: str, result: dict[str, Any]) -> bool:
        """Record the result; False if the job was already terminal (another worker won)."""
        now = self._now()
        statement = (
            update(jobs_table)
            .where(jobs_table.c.id == job_id, _UNFINISHED)
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

    def succeed_many(self, results: Mapping[str, dict[str, Any]]) -> set[str]:
        """succeed() for a batch in one transaction; returns the ids that succeeded now."""
        if not results:
            return set()
        now = self._now()
        won: set[str] = set()
        with translate_unavailable("recording results"), self._writer.begin() as connection:
            for chunk in _chunks(list(results.items()), _BATCH_ROWS):
                statement, parameters = _succeed_from_values(connection, chunk, now)
                won.update(connection.execute(statement, parameters).scalars())
        return won

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
        statement = (
            update(jobs_table).where(jobs_table.c.id == job_id, _UNFINISHED).values(**values)
        )
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


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _upsert_running(dialect_name: str) -> ReturningInsert[Any]:
    """INSERT jobs as running; for existing unfinished ones bump attempts instead.

    Executed with a list of parameter sets: RETURNING makes SQLAlchemy send them as multi-row
    VALUES batches ("insertmanyvalues") from one cached compilation, not row by row.
    """
    dialect_insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement = dialect_insert(jobs_table)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[jobs_table.c.id],
        set_={
            "status": JobStatus.RUNNING.value,
            "attempts": jobs_table.c.attempts + 1,
            "source_topic": excluded.source_topic,
            "source_partition": excluded.source_partition,
            "source_offset": excluded.source_offset,
            "updated_at": excluded.updated_at,
            "started_at": excluded.started_at,
        },
        where=_UNFINISHED,
    ).returning(*_RECORD_COLUMNS)


def _running_row(start: JobStart, now: datetime) -> dict[str, Any]:
    return {
        "id": start.job_id,
        "event_type": start.event_type,
        "job_type": start.job_type,
        "status": JobStatus.RUNNING.value,
        "attempts": 1,
        "progress": 0.0,
        "source_topic": start.topic,
        "source_partition": start.partition,
        "source_offset": start.offset,
        "correlation_id": start.correlation_id,
        "created_at": now,
        "updated_at": now,
        "started_at": now,
    }


def _succeed_from_values(
    connection: Connection, chunk: Sequence[tuple[str, dict[str, Any]]], now: datetime
) -> tuple[TextClause, dict[str, Any]]:
    """One guarded UPDATE ... FROM (VALUES ...) RETURNING id for a whole batch of results.

    Both PostgreSQL and SQLite (3.33+) accept UPDATE ... FROM a CTE; RETURNING tells exactly
    which rows this transaction moved to SUCCEEDED, with no per-row round trip.
    """
    parameters: dict[str, Any] = {
        "succeeded": JobStatus.SUCCEEDED.value,
        "dead": JobStatus.DEAD.value,
        "now": now,
    }
    for index, (job_id, result) in enumerate(chunk):
        parameters[f"id{index}"] = job_id
        parameters[f"result{index}"] = json.dumps(result)
    return _succeed_statement(connection.dialect.name, len(chunk)), parameters


@lru_cache(maxsize=64)
def _succeed_statement(dialect_name: str, rows: int) -> TextClause:
    # Cached per batch size: parsing a text() with a thousand placeholders is not free.
    values = ", ".join(f"(:id{index}, :result{index})" for index in range(rows))
    result_value = "CAST(v.result AS JSON)" if dialect_name == "postgresql" else "v.result"
    return text(
        f"WITH v(id, result) AS (VALUES {values}) "  # noqa: S608 - placeholders only
        f"UPDATE jobs SET status = :succeeded, result = {result_value}, error = NULL, "
        "progress = 1.0, updated_at = :now, finished_at = :now "
        "FROM v WHERE jobs.id = v.id AND jobs.status NOT IN (:succeeded, :dead) "
        "RETURNING jobs.id"
    ).bindparams(bindparam("now", type_=UtcDateTime()))
