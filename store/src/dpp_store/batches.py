"""Set-based statements for batched bookkeeping, one flavour per dialect.

Each batch is one statement of constant text whatever its size, so it is parsed (and on
PostgreSQL prepared) once: PostgreSQL unnest()s array parameters, SQLite json_each()s one
JSON array parameter. Either way a batch costs one round trip, not one per job, and Python
binds a handful of parameters instead of a dozen per job.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Connection, TextClause, TextualSelect, bindparam, literal_column, text

from dpp_store.records import RECORD_COLUMNS, JobRecord, JobStart
from dpp_store.schema import TERMINAL_STATUSES, JobStatus, UtcDateTime, jobs_table

# The terminal statuses inlined as SQL literals: a constant part of every cached statement.
UNFINISHED = jobs_table.c.status.not_in(
    [literal_column(f"'{status.value}'") for status in sorted(TERMINAL_STATUSES)]
)
_UNFINISHED_SQL = "jobs.status NOT IN ({})".format(
    ", ".join(f"'{status.value}'" for status in sorted(TERMINAL_STATUSES))
)
# Ids per IN (...) list: SQLite allows 32766 bound parameters per statement.
IN_LIST_CHUNK = 500
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
        # Rows are locked in id order, so two workers with overlapping batches in different
        # orders queue behind each other instead of deadlocking.
        starts = sorted(starts, key=lambda start: start.job_id)
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
                "owners": [start.owner for start in starts],
                "now": now,
            },
        )
        records.update((row.id, JobRecord.from_row(row)) for row in rows)
        return records
    batch = [
        [
            start.job_id,
            start.event_type,
            start.job_type,
            start.topic,
            start.partition,
            start.offset,
            start.correlation_id,
            start.owner,
        ]
        for start in starts
    ]
    rows = connection.execute(_sqlite_start(), {"batch": json.dumps(batch), "now": now})
    records.update((row.id, JobRecord.from_row(row)) for row in rows)
    return records


def succeed_jobs(
    connection: Connection, results: Sequence[tuple[str, dict[str, Any]]], now: datetime
) -> set[str]:
    """Record results of unfinished jobs; returns the ids this statement moved to SUCCEEDED."""
    won: set[str] = set()
    if connection.dialect.name == "postgresql":
        results = sorted(results, key=lambda item: item[0])
        ids = [job_id for job_id, _ in results]
        # An UPDATE ... FROM locks rows in whatever order its join runs; lock them in id
        # order first so that overlapping batches cannot deadlock.
        connection.execute(_POSTGRES_LOCK_IN_ORDER, {"ids": ids})
        parameters = {
            "ids": ids,
            "results": [json.dumps(result) for _, result in results],
            "now": now,
        }
        won.update(connection.execute(_postgres_succeed(), parameters).scalars())
        return won
    # Each result travels as its own JSON text, stored verbatim: re-serialising it inside
    # SQLite would round floats to 15 significant digits.
    batch = json.dumps([[job_id, json.dumps(result)] for job_id, result in results])
    won.update(connection.execute(_sqlite_succeed(), {"batch": batch, "now": now}).scalars())
    return won


def finish_jobs(
    connection: Connection, rows: Sequence[tuple[JobStart, dict[str, Any]]], now: datetime
) -> set[str]:
    """Insert new jobs as succeeded, move unfinished ones to succeeded (attempts bumped);
    terminal ones untouched. Returns the ids this statement moved to SUCCEEDED."""
    won: set[str] = set()
    if connection.dialect.name == "postgresql":
        # Rows are locked in id order, so overlapping batches queue instead of deadlocking.
        rows = sorted(rows, key=lambda row: row[0].job_id)
        parameters = {
            "ids": [start.job_id for start, _ in rows],
            "event_types": [start.event_type for start, _ in rows],
            "job_types": [start.job_type for start, _ in rows],
            "topics": [start.topic for start, _ in rows],
            "partitions": [start.partition for start, _ in rows],
            "offsets": [start.offset for start, _ in rows],
            "correlation_ids": [start.correlation_id for start, _ in rows],
            "owners": [start.owner for start, _ in rows],
            "results": [json.dumps(result) for _, result in rows],
            "now": now,
        }
        won.update(connection.execute(_postgres_finish(), parameters).scalars())
        return won
    # Results travel as JSON text each and are stored verbatim (see succeed_jobs).
    batch = json.dumps(
        [
            [
                start.job_id,
                start.event_type,
                start.job_type,
                start.topic,
                start.partition,
                start.offset,
                start.correlation_id,
                json.dumps(result),
                start.owner,
            ]
            for start, result in rows
        ]
    )
    won.update(connection.execute(_sqlite_finish(), {"batch": batch, "now": now}).scalars())
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
            "source_topic, source_partition, source_offset, correlation_id, owner, "
            "created_at, updated_at, started_at) "
            f"SELECT v.id, v.event_type, v.job_type, '{JobStatus.RUNNING.value}', 1, 0.0, "
            "v.topic, v.partition, v.source_offset, v.correlation_id, v.owner, :now, :now, :now "
            "FROM unnest(CAST(:ids AS text[]), CAST(:event_types AS text[]), "
            "CAST(:job_types AS text[]), CAST(:topics AS text[]), "
            "CAST(:partitions AS integer[]), CAST(:offsets AS bigint[]), "
            "CAST(:correlation_ids AS text[]), CAST(:owners AS text[])) "
            "AS v(id, event_type, job_type, topic, partition, source_offset, correlation_id, "
            "owner) "
            "ORDER BY v.id"
            f"{_ON_CONFLICT_BUMP}RETURNING {_RETURNING}"
        )
        .bindparams(bindparam("now", type_=UtcDateTime()))
        .columns(*RECORD_COLUMNS)  # typed results: UTC datetimes, parsed JSON
    )


_POSTGRES_LOCK_IN_ORDER = text(
    "SELECT id FROM jobs WHERE id = ANY(CAST(:ids AS text[])) ORDER BY id FOR UPDATE"
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
def _sqlite_start() -> TextualSelect:
    # The whole batch is one JSON array parameter that json_each() unpacks inside SQLite:
    # one short statement, no per-row parameter binding in Python. ("WHERE true" keeps
    # SQLite's parser from reading ON CONFLICT as part of the SELECT's join.)
    return (
        text(
            "INSERT INTO jobs (id, event_type, job_type, status, attempts, progress, "  # noqa: S608 - constants only
            "source_topic, source_partition, source_offset, correlation_id, owner, "
            "created_at, updated_at, started_at) "
            "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
            f"json_extract(value, '$[2]'), '{JobStatus.RUNNING.value}', 1, 0.0, "
            "json_extract(value, '$[3]'), json_extract(value, '$[4]'), "
            "json_extract(value, '$[5]'), json_extract(value, '$[6]'), "
            "json_extract(value, '$[7]'), :now, :now, :now "
            f"FROM json_each(:batch) WHERE true{_ON_CONFLICT_BUMP}RETURNING {_RETURNING}"
        )
        .bindparams(bindparam("now", type_=UtcDateTime()))
        .columns(*RECORD_COLUMNS)
    )


@cache
def _sqlite_succeed() -> TextClause:
    return text(
        f"UPDATE jobs SET status = '{JobStatus.SUCCEEDED.value}', "  # noqa: S608 - constants only
        "result = json_extract(v.value, '$[1]'), "
        "error = NULL, progress = 1.0, updated_at = :now, finished_at = :now "
        "FROM json_each(:batch) AS v "
        f"WHERE jobs.id = json_extract(v.value, '$[0]') AND {_UNFINISHED_SQL} "
        "RETURNING jobs.id"
    ).bindparams(bindparam("now", type_=UtcDateTime()))


_ON_CONFLICT_FINISH = f"""
ON CONFLICT (id) DO UPDATE SET
    status = '{JobStatus.SUCCEEDED.value}',
    attempts = jobs.attempts + 1,
    progress = 1.0,
    result = excluded.result,
    error = NULL,
    source_topic = excluded.source_topic,
    source_partition = excluded.source_partition,
    source_offset = excluded.source_offset,
    updated_at = excluded.updated_at,
    started_at = excluded.started_at,
    finished_at = excluded.finished_at
WHERE {_UNFINISHED_SQL}
"""


@cache
def _postgres_finish() -> TextClause:
    return text(
        "INSERT INTO jobs (id, event_type, job_type, status, attempts, progress, result, "  # noqa: S608 - constants only
        "source_topic, source_partition, source_offset, correlation_id, owner, "
        "created_at, updated_at, started_at, finished_at) "
        f"SELECT v.id, v.event_type, v.job_type, '{JobStatus.SUCCEEDED.value}', 1, 1.0, "
        "v.result, v.topic, v.partition, v.source_offset, v.correlation_id, v.owner, "
        ":now, :now, :now, :now "
        "FROM unnest(CAST(:ids AS text[]), CAST(:event_types AS text[]), "
        "CAST(:job_types AS text[]), CAST(:topics AS text[]), "
        "CAST(:partitions AS integer[]), CAST(:offsets AS bigint[]), "
        "CAST(:correlation_ids AS text[]), CAST(:results AS json[]), "
        "CAST(:owners AS text[])) "
        "AS v(id, event_type, job_type, topic, partition, source_offset, correlation_id, "
        "result, owner) ORDER BY v.id"
        f"{_ON_CONFLICT_FINISH}RETURNING jobs.id"
    ).bindparams(bindparam("now", type_=UtcDateTime()))


@cache
def _sqlite_finish() -> TextClause:
    return text(
        "INSERT INTO jobs (id, event_type, job_type, status, attempts, progress, result, "  # noqa: S608 - constants only
        "source_topic, source_partition, source_offset, correlation_id, owner, "
        "created_at, updated_at, started_at, finished_at) "
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
        f"json_extract(value, '$[2]'), '{JobStatus.SUCCEEDED.value}', 1, 1.0, "
        "json_extract(value, '$[7]'), json_extract(value, '$[3]'), "
        "json_extract(value, '$[4]'), json_extract(value, '$[5]'), "
        "json_extract(value, '$[6]'), json_extract(value, '$[8]'), :now, :now, :now, :now "
        f"FROM json_each(:batch) WHERE true{_ON_CONFLICT_FINISH}RETURNING jobs.id"
    ).bindparams(bindparam("now", type_=UtcDateTime()))
