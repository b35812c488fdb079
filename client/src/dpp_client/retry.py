"""When to try again: retryable answers, jittered exponential backoff, `Retry-After`."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# 429: the API's produce queue is full; 503: the broker did not ack in time (or a dependency
# is down); 502/504: an API Gateway or load balancer in front had no answer from the API.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying one publish: total time, attempts, and the backoff curve."""

    total_timeout_s: float = 10.0
    attempt_timeout_s: float = 5.0
    max_attempts: int = 6
    backoff_base_s: float = 0.1
    backoff_max_s: float = 2.0

    def backoff_s(self, attempt: int, rng: random.Random) -> float:
        """ "Full jitter" after attempt `attempt` (1-based): uniform in [0, base * 2^(n-1)],
        capped, so many Lambdas failing together do not retry in lockstep."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** min(attempt - 1, 30))
        return rng.uniform(0, ceiling)


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Parse `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
