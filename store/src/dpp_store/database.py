"""What every store shares: one engine over DATABASE_URL, its clock, migrations and closing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Self

from sqlalchemy import Engine

from dpp_store.clock import utc_now
from dpp_store.engine import WRITE_OPTION, create_store_engine
from dpp_store.migration import upgrade_to_head


class StoreDatabase:
    """Base of the job and idempotency stores: both live in the same schema and database."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utc_now) -> None:
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
        clock: Callable[[], datetime] = utc_now,
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
