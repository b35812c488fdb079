"""Set-based statements for batched bookkeeping, one flavour per dialect.

PostgreSQL gets statements of constant size over unnest()ed arrays, so the driver parses and
prepares them once whatever the batch size. SQLite has no arrays and runs in-process, so it
gets multi-row VALUES in chunks. Either way a batch costs a few statements, not one per job.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cache, lru_cache
from typing import Any, TypeVar

from sqlalchemy import Connection, TextClause, TextualSelect, bindparam, literal_column, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.dml import ReturningInsert

from dpp_shared.store.records import RECORD_COLUMNS, JobRecord, JobStart
from dpp_shared.store.schema import TERMINAL_STATUSES, JobStatus, UtcDateTime, jobs_table

# Inlined as SQL literals rather than an expanding IN parameter, which executemany forbids.
UNFINISHED = jobs_table.c.status.not_in(
    [literal_column(f"'{status.value}'") for status in sorted(TERMINAL_STATUSES)]
)
_UNFINISHED_SQL = "jobs.status NOT IN ({})".format(
    ", ".join(f"'{status.value}'" for status in sorted(TERMINAL_STATUSES))
)
# Rows per SQLite statement: it allows 32766 bound parameters.
SQLITE_CHUNK_ROWS = 500
_RETURNING = ", ".join(f"jobs.{column.name}" for column in RECORD_COLUMNS)

_T = TypeVar("_T")


def start_jobs(
    connection: Connection, starts: Sequence[JobStart], now: datetime
) -> dict[str, JobRecord]:
    """Insert new jobs as running, bump attempts of unfinished ones; terminal ones untouched.

    Returns the records inserted or updated (terminal jobs are absent: the caller reads them).
    `starts` must not repeat a job id: one statement may touch a row only once.
    """
    records: dict[str, JobRecord] = {}
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            _postgres_start(),
            {
                "ids": [start.job_id for start in starts],
                "event_types": [start.event_type for start in starts],
                "job_types": [start.job_type for start in starts],
                "topics": [start.topic for start in starts],
                "partitions": [start.partition for start in starts],
                "offsets": [start.offset for start in starts],
                "correlation_ids": [start.correlation_id for start in starts],
                "now": now,
            },
        )
        records.update((row.id, JobRecord.from_row(row)) for row in rows)
        return records
    upsert = _sqlite_start()
    for chunk in chunks(starts, SQLITE_CHUNK_ROWS):
        rows = connection.execute(upsert, [_running_row(start, now) for start in chunk])
        records.update((row.id, JobRecord.from_row(row)) for row in rows)
    return records


def succeed_jobs(
    connection: Connection, results: Sequence[tuple[str, dict[str, Any]]], now: datetime
) -> set[str]:
    """Record results of unfinished jobs; returns the ids this statement moved to SUCCEEDED."""
    won: set[str] = set()
    if connection.dialect.name == "postgresql":
        parameters = {
            "ids": [job_id for job_id, _ in results],
            "results": [json.dumps(result) for _, result in results],
            "now": now,
        }
        won.update(connection.execute(_postgres_succeed(), parameters).scalars())
        return won
    for chunk in chunks(results, SQLITE_CHUNK_ROWS):
        parameters = {"now": now}
        for index, (job_id, result) in enumerate(chunk):
            parameters[f"id{index}"] = job_id
            parameters[f"result{index}"] = json.dumps(result)
        won.update(connection.execute(_sqlite_succeed(len(chunk)), parameters).scalars())
    return won


def chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_ON_CONFLICT_BUMP = f"""
ON CONFLICT (id) DO UPDATE SET
    status = '{JobStatus.RUNNING.value}',
    attempts = jobs.attempts + 1,
    source_topic = excluded.source_topic,
    source_partition = excluded.source_partition,
    source_offset = excluded.source_offset,
    updated_at = excluded.updated_at,
    started_at = excluded.started_at
WHERE {_UNFINISHED_SQL}
"""


@cache
def _postgres_start() -> TextualSelect:
    return (
        text(
            "INSERT INTO jobs (id, event_type, job_type, status, attempts, progress, "  # noqa: S608 - constants only
            "source_topic, source_partition, source_offset, correlation_id, "
            "created_at, updated_at, started_at) "
            f"SELECT v.id, v.event_type, v.job_type, '{JobStatus.RUNNING.value}', 1, 0.0, "
            "v.topic, v.partition, v.source_offset, v.correlation_id, :now, :now, :now "
            "FROM unnest(CAST(:ids AS text[]), CAST(:event_types AS text[]), "
            "CAST(:job_types AS text[]), CAST(:topics AS text[]), "
            "CAST(:partitions AS integer[]), CAST(:offsets AS bigint[]), "
            "CAST(:correlation_ids AS text[])) "
            "AS v(id, event_type, job_type, topic, partition, source_offset, correlation_id)"
            f"{_ON_CONFLICT_BUMP}RETURNING {_RETURNING}"
        )
        .bindparams(bindparam("now", type_=UtcDateTime()))
        .columns(*RECORD_COLUMNS)  # typed results: UTC datetimes, parsed JSON
    )


@cache
def _postgres_succeed() -> TextClause:
    return text(
        f"UPDATE jobs SET status = '{JobStatus.SUCCEEDED.value}', result = v.result, "  # noqa: S608 - constants only
        "error = NULL, progress = 1.0, updated_at = :now, finished_at = :now "
        "FROM unnest(CAST(:ids AS text[]), CAST(:results AS json[])) AS v(id, result) "
        f"WHERE jobs.id = v.id AND {_UNFINISHED_SQL} RETURNING jobs.id"
    ).bindparams(bindparam("now", type_=UtcDateTime()))


@cache
def _sqlite_start() -> ReturningInsert[Any]:
    # Executed with a list of parameter sets: RETURNING makes SQLAlchemy send them as
    # multi-row VALUES ("insertmanyvalues") from one cached compilation.
    statement = sqlite.insert(jobs_table)
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
        where=UNFINISHED,
    ).returning(*RECORD_COLUMNS)


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


@lru_cache(maxsize=64)
def _sqlite_succeed(rows: int) -> TextClause:
    # Cached per chunk size: parsing a text() with a thousand placeholders is not free.
    values = ", ".join(f"(:id{index}, :result{index})" for index in range(rows))
    return text(
        f"WITH v(id, result) AS (VALUES {values}) "  # noqa: S608 - placeholders only
        f"UPDATE jobs SET status = '{JobStatus.SUCCEEDED.value}', result = v.result, "
        "error = NULL, progress = 1.0, updated_at = :now, finished_at = :now "
        f"FROM v WHERE jobs.id = v.id AND {_UNFINISHED_SQL} RETURNING jobs.id"
    ).bindparams(bindparam("now", type_=UtcDateTime()))
