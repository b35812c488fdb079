"""Token buckets shared by every producer process: one atomic statement takes a token."""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

from dpp_store.database import StoreDatabase, writes
from dpp_store.engine import translate_unavailable


def _statement(least: str, greatest: str) -> TextClause:
    # Refill by the time since the last take (never negative, whatever the callers' clocks),
    # cap at the burst, then take one token if there is one. The row lock of the upsert makes
    # concurrent takes from any number of processes queue, so no token is spent twice.
    refilled = (
        f"{least}(:burst, rate_limit_buckets.tokens + "
        f"{greatest}(:now - rate_limit_buckets.refilled_at, 0) * :rate)"
    )
    return text(
        "INSERT INTO rate_limit_buckets (bucket, tokens, refilled_at, allowed) "  # noqa: S608 - constants only
        "VALUES (:bucket, :burst - 1, :now, true) "
        "ON CONFLICT (bucket) DO UPDATE SET "
        f"tokens = CASE WHEN {refilled} >= 1 THEN {refilled} - 1 ELSE {refilled} END, "
        f"allowed = {refilled} >= 1, "
        f"refilled_at = {greatest}(:now, rate_limit_buckets.refilled_at) "
        "RETURNING allowed, tokens"
    )


@cache
def _take_statement(dialect: str) -> TextClause:
    if dialect == "postgresql":
        return _statement("LEAST", "GREATEST")
    return _statement("MIN", "MAX")  # SQLite's multi-argument scalar min/max


class RateLimitStore(StoreDatabase):
    """The `rate_limit_buckets` table (migration 0002)."""

    @writes
    def take(self, bucket: str, *, rate: float, burst: float, now: float) -> tuple[bool, float]:
        """Take one token from `bucket` (refilled at `rate` per second up to `burst`) at time
        `now` (epoch seconds): whether it was there, and the tokens left afterwards."""
        statement = _take_statement(self.engine.dialect.name)
        parameters = {"bucket": bucket, "rate": rate, "burst": burst, "now": now}
        with translate_unavailable("taking a rate-limit token"), self._writer.begin() as conn:
            row = conn.execute(statement, parameters).one()
        return bool(row.allowed), float(row.tokens)
