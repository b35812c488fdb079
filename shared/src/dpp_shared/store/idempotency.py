"""Idempotent answers: the first response to an Idempotency-Key, replayed until it expires."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from sqlalchemy import CursorResult, Engine, Row, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from dpp_shared.store.clock import utc_now as _utc_now
from dpp_shared.store.engine import WRITE_OPTION, create_store_engine, translate_unavailable
from dpp_shared.store.migration import upgrade_to_head
from dpp_shared.store.schema import idempotency_table

_KEYS = idempotency_table.c


@dataclass(frozen=True)
class IdempotencyRecord:
    """The answer first given to (key, principal), and the hash of the request it answered."""

    key: str
    principal: str
    request_hash: str
    status_code: int
    body: bytes
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> IdempotencyRecord:
        values = row._mapping
        return cls(
            key=values["key"],
            principal=values["principal"],
            request_hash=values["request_hash"],
            status_code=values["status_code"],
            body=bytes(values["body"]),
            created_at=values["created_at"],
            expires_at=values["expires_at"],
        )


class IdempotencyStore:
    """Stored answers keyed by (Idempotency-Key, principal), in the same database as the jobs.

    The caller compares request_hash: same hash, replay the answer; another hash, 409.
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
        """Create or upgrade the schema (shared with the job store); idempotent."""
        upgrade_to_head(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def get(self, key: str, principal: str) -> IdempotencyRecord | None:
        """The unexpired answer for this key and principal, if any."""
        statement = select(idempotency_table).where(
            _KEYS.key == key, _KEYS.principal == principal, _KEYS.expires_at > self._now()
        )
        with translate_unavailable("reading an idempotency key"), self.engine.connect() as conn:
            row = conn.execute(statement).first()
        return None if row is None else IdempotencyRecord.from_row(row)

    def put(  # noqa: PLR0917 - positional, as the producer codes against it
        self,
        key: str,
        principal: str,
        request_hash: str,
        status_code: int,
        body: bytes,
        ttl_s: float,
    ) -> IdempotencyRecord:
        """Store an answer, or return the one stored first if another request won the race.

        An expired record for the same key is replaced: its TTL is over, the key is free again.
        """
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        now = self._now()
        dialect_insert = (
            postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        )
        statement = dialect_insert(idempotency_table).values(
            key=key,
            principal=principal,
            request_hash=request_hash,
            status_code=status_code,
            body=body,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[_KEYS.key, _KEYS.principal],
            set_={
                "request_hash": excluded.request_hash,
                "status_code": excluded.status_code,
                "body": excluded.body,
                "created_at": excluded.created_at,
                "expires_at": excluded.expires_at,
            },
            where=_KEYS.expires_at <= now,
        )
        stored = select(idempotency_table).where(_KEYS.key == key, _KEYS.principal == principal)
        with translate_unavailable("storing an idempotency key"), self._writer.begin() as conn:
            conn.execute(statement)
            # Either our row or the winner's: a conflicting insert waits for the other
            # transaction to commit, so the row is visible here.
            row = conn.execute(stored).one()
        return IdempotencyRecord.from_row(row)

    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete expired answers; returns how many were deleted."""
        statement = delete(idempotency_table).where(_KEYS.expires_at <= (now or self._now()))
        with translate_unavailable("purging idempotency keys"), self._writer.begin() as conn:
            deleted: CursorResult[Any] = conn.execute(statement)
            return deleted.rowcount
