"""Idempotent answers: the first response to an Idempotency-Key, replayed until it expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Row, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from dpp_store.database import StoreDatabase, writes
from dpp_store.engine import translate_unavailable
from dpp_store.schema import idempotency_table

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


class IdempotencyStore(StoreDatabase):
    """Stored answers keyed by (Idempotency-Key, principal), in the same database as the jobs.

    The caller compares request_hash: same hash, replay the answer; another hash, 409.
    """

    def get(self, key: str, principal: str) -> IdempotencyRecord | None:
        """The unexpired answer for this key and principal, if any."""
        statement = select(idempotency_table).where(
            _KEYS.key == key, _KEYS.principal == principal, _KEYS.expires_at > self._now()
        )
        with translate_unavailable("reading an idempotency key"), self.engine.connect() as conn:
            row = conn.execute(statement).first()
        return None if row is None else IdempotencyRecord.from_row(row)

    @writes
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

    @writes
    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete expired answers; returns how many were deleted."""
        statement = delete(idempotency_table).where(_KEYS.expires_at <= (now or self._now()))
        with translate_unavailable("purging idempotency keys"), self._writer.begin() as conn:
            deleted: CursorResult[Any] = conn.execute(statement)
            return deleted.rowcount
