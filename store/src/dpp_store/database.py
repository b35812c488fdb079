"""What every store shares: one engine over DATABASE_URL, its clock, migrations and closing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import wraps
from typing import Concatenate, ParamSpec, Self, TypeVar

from sqlalchemy import Engine

from dpp_store.clock import utc_now
from dpp_store.engine import WRITE_OPTION, create_store_engine
from dpp_store.migration import upgrade_to_head

_P = ParamSpec("_P")
_T = TypeVar("_T")
_S = TypeVar("_S", bound="StoreDatabase")


def writes(method: Callable[Concatenate[_S, _P], _T]) -> Callable[Concatenate[_S, _P], _T]:
    """Mark a store method that writes: on SQLite it runs on the store's one writer thread."""

    @wraps(method)
    def on_writer(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return self.on_writer(lambda: method(self, *args, **kwargs))

    return on_writer


class StoreDatabase:
    """Base of the job and idempotency stores: both live in the same schema and database.

    SQLite has one writer at a time per file; threads of one process that write at once queue
    in its busy handler, which sleeps and retries (half of `finish_many`'s time in the last
    profile was `BEGIN IMMEDIATE` waiting). So on SQLite every write runs on one writer thread
    of this store, in turn and on one pooled connection; other processes still meet the busy
    handler. PostgreSQL writes run on the caller's thread."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self._now = clock  # injectable so tests can move time instead of sleeping
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._single_writer = engine.dialect.name == "sqlite"
        self._writer_thread: ThreadPoolExecutor | None = None
        self._writer_lock = threading.Lock()
        self._writer_ident: int | None = None

    def on_writer(self, call: Callable[[], _T]) -> _T:
        """Run `call` on the writer thread (SQLite), else here; re-entrant."""
        if not self._single_writer or threading.get_ident() == self._writer_ident:
            return call()
        with self._writer_lock:
            if self._writer_thread is None:
                self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="dpp-store-writer")
                self._writer_ident = self._writer_thread.submit(threading.get_ident).result()
            writer = self._writer_thread
        return writer.submit(call).result()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        pool_size: int = 2,
        max_overflow: int = 3,
        clock: Callable[[], datetime] = utc_now,
    ) -> Self:
        """A store over DATABASE_URL; connects lazily, on the first call that needs it."""
        engine = create_store_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        return cls(engine, clock=clock)

    def migrate(self) -> None:
        """Create or upgrade the schema (Alembic upgrade head); idempotent and concurrency-safe."""
        upgrade_to_head(self.engine)

    def close(self) -> None:
        """Close pooled connections and the writer thread; the store reconnects (and starts a
        writer thread) if used again."""
        with self._writer_lock:
            writer, self._writer_thread, self._writer_ident = self._writer_thread, None, None
        if writer is not None:
            writer.shutdown(wait=True)
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
