"""Engines for the job store: URL normalisation, SQLite pragmas, small pools for Lambda."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from dpp_store.errors import StoreError, StoreUnavailableError

SQLITE_BUSY_TIMEOUT_MS = 10_000
MIN_SQLITE_VERSION = (3, 35, 0)
# Long enough for Aurora Serverless v2 to resume from auto-pause, short of API Gateway's 29 s.
POSTGRES_CONNECT_TIMEOUT_S = 10
# Execution option marking a connection that will write: on SQLite its transaction starts
# with BEGIN IMMEDIATE, so a read-then-write never loses a race to another writer midway.
WRITE_OPTION = "dpp_store_write"


def normalise_url(url: str) -> URL:
    """Parse a DATABASE_URL; plain postgres:// and postgresql:// URLs use the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_store_engine(
    url: str,
    *,
    pool_size: int = 2,
    max_overflow: int = 3,
    sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    postgres_connect_timeout_s: int = POSTGRES_CONNECT_TIMEOUT_S,
) -> Engine:
    """An engine for a job store; connects lazily (nothing happens until the first query).

    The default pool is small because the producer runs on Lambda, where every concurrent
    execution environment holds its own pool against one Aurora instance.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, sqlite_busy_timeout_ms)
    return create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,  # a server restart or an Aurora scale event leaves dead sockets
        pool_recycle=300,
        connect_args={"connect_timeout": postgres_connect_timeout_s},
    )


def _sqlite_engine(url: URL, busy_timeout_ms: int) -> Engine:
    if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
        raise StoreError(
            f"the job store needs SQLite {'.'.join(map(str, MIN_SQLITE_VERSION))} or newer "
            f"(RETURNING, UPDATE ... FROM, json_each); this Python has {sqlite3.sqlite_version}"
        )
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        options["poolclass"] = StaticPool  # one shared connection, else each sees its own DB
    engine = create_engine(url, **options)
    event.listen(engine, "connect", partial(_configure_sqlite_connection, busy_timeout_ms))
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(
    busy_timeout_ms: int, dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry
) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _ensure_wal(cursor, busy_timeout_ms / 1000)  # readers never block the writer
        cursor.execute("PRAGMA synchronous = FULL")  # a committed job outcome survives power loss
    finally:
        cursor.close()


def _ensure_wal(cursor: sqlite3.Cursor, timeout_s: float) -> None:
    """Switch the file to WAL once (the mode is stored in the file). Switching needs an
    exclusive lock and SQLite answers "database is locked" at once, without the busy handler,
    when another connection opens the file at that moment: retry until the busy timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        mode = cursor.execute("PRAGMA journal_mode").fetchone()
        if mode is not None and str(mode[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode = WAL")  # in-memory files answer "memory"
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # contention lasts as long as another connection's first open
        else:
            return


def _begin_sqlite_transaction(connection: Connection) -> None:
    # The sqlite3 module would begin lazily before the first DML only, so a guarded update
    # could read one snapshot and then fail to upgrade it to a write lock (SQLITE_BUSY_SNAPSHOT);
    # DDL would even run outside any transaction. IMMEDIATE takes the write lock up front.
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


@contextmanager
def translate_unavailable(operation: str) -> Iterator[None]:
    """Turn "cannot reach or lock the database" driver errors into StoreUnavailableError."""
    try:
        yield
    except exc.OperationalError as error:
        raise StoreUnavailableError(operation, error) from error
    except exc.DBAPIError as error:
        if error.connection_invalidated or isinstance(error, exc.InterfaceError):
            raise StoreUnavailableError(operation, error) from error
        raise
