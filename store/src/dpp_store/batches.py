"""Set-based statements for batched bookkeeping, one flavour per dialect.

Each batch is one statement of constant text whatever its size, so it is parsed (and on
PostgreSQL prepared) once: PostgreSQL unnest()s array parameters, SQLite json_each()s one
JSON array parameter. Either way a batch costs one round trip, not one per job, and Python
binds a handful of parameters instead of a dozen per job. The exception is the worker's hot
path on SQLite (finish_many, get_many's probe): SQLite runs in-process, so there are no round
trips to save, and one prepared upsert run per row with executemany is cheaper than parsing
and extracting a JSON row per job.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Connection, TextClause, TextualSelect, bindparam, literal_column, text

from dpp_store.errors import StoreError
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
_UTC_DATETIME = UtcDateTime()

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
    return _sqlite_finish_rows(connection, rows, now)


def _sqlite_finish_rows(
    connection: Connection, rows: Sequence[tuple[JobStart, dict[str, Any]]], now: datetime
) -> set[str]:
    """finish_jobs on SQLite: the terminal ids first, then one prepared upsert per row.

    The caller holds SQLite's write lock (BEGIN IMMEDIATE) for the whole transaction, so the
    terminal rows read here are exactly those the guarded upsert leaves alone: every other id
    is inserted or moved to SUCCEEDED by it, and the upsert's change count must agree. An
    executemany of one short statement costs SQLite a bind per row; the json_each() form it
    replaced cost a JSON parse and nine extracts per row.
    """
    terminal = set(
        connection.exec_driver_sql(
            _SQLITE_TERMINAL_IDS, (json.dumps([start.job_id for start, _ in rows]),)
        ).scalars()
    )
    stamp = _sqlite_stamp(connection, now)
    # Results travel as JSON text each and are stored verbatim (see succeed_jobs).
    pending = [
        (
            start.job_id,
            start.event_type,
            start.job_type,
            json.dumps(result),
            start.topic,
            start.partition,
            start.offset,
            start.correlation_id,
            start.owner,
            stamp,
        )
        for start, result in rows
        if start.job_id not in terminal
    ]
    if not pending:
        return set()
    changed = connection.exec_driver_sql(_SQLITE_FINISH_ROW, pending).rowcount
    if changed != len(pending):
        # Cannot happen under the write lock; a silent mismatch would mean a duplicate result.
        raise StoreError(f"finish_many changed {changed} of {len(pending)} unfinished jobs")
    return {row[0] for row in pending}


def _sqlite_stamp(connection: Connection, now: datetime) -> Any:
    """`now` as the UtcDateTime column stores it on this connection's dialect (UTC text)."""
    # The dialect's own implementation: the generic DateTime has no processor and would leave
    # sqlite3's adapter to write the text (no ".000000" on whole seconds: a different order).
    dialect = connection.dialect
    processor = _UTC_DATETIME.dialect_impl(dialect).bind_processor(dialect)
    return now if processor is None else processor(now)


def known_ids(connection: Connection, job_ids: Sequence[str]) -> set[str]:
    """Which of `job_ids` have a row, in one SQLite statement of constant text."""
    return set(connection.exec_driver_sql(_SQLITE_KNOWN_IDS, (json.dumps(job_ids),)).scalars())


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


# SQLite's own statements for the hot path, run through exec_driver_sql: constant text (the
# sqlite3 module's statement cache keeps them prepared), no SQLAlchemy compilation per call.
_SQLITE_TERMINAL_IDS = (
    "SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?)) "  # noqa: S608 - constants only
    f"AND NOT ({_UNFINISHED_SQL})"
)
_SQLITE_KNOWN_IDS = "SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?))"
_SQLITE_FINISH_ROW = (
    "INSERT INTO jobs (id, event_type, job_type, status, attempts, progress, result, "  # noqa: S608 - constants only
    "source_topic, source_partition, source_offset, correlation_id, owner, "
    "created_at, updated_at, started_at, finished_at) "
    f"VALUES (?1, ?2, ?3, '{JobStatus.SUCCEEDED.value}', 1, 1.0, ?4, ?5, ?6, ?7, ?8, ?9, "
    f"?10, ?10, ?10, ?10){_ON_CONFLICT_FINISH}"
)
