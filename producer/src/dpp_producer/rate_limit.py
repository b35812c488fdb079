"""Per-client limits: a token bucket per token subject, sized by the scopes the token holds.

`DPP_RATE_LIMITS` maps scopes to policies, ``<scope>=<count>/<period>[:<burst>]`` separated by
commas (``events:*=100/s:200,events:demo=10/s,*=20/s``); ``*`` is the policy of a token that holds
none of the listed scopes. A token holding several listed scopes gets the most generous policy.
A request takes one token; without one it gets 429 with `Retry-After`.

Every answer of a limited client carries the IETF RateLimit fields
(draft-ietf-httpapi-ratelimit-headers-09/-10): ``RateLimit-Policy: "<scope>";q=<burst>;w=<s>``
(the bucket holds `q` requests and refills completely in `w` seconds) and
``RateLimit: "<scope>";r=<remaining>;t=<s until full>``.

Where the buckets live (`DPP_RATE_LIMIT_BACKEND`):

- ``memory``: in the process. With N processes behind one balancer (``dpp producer serve
  --workers N``) set `DPP_RATE_LIMIT_PROCESSES=N`: each process enforces 1/N of the rate and
  burst, which is exact under round-robin balancing and stricter than configured when a
  client's requests land unevenly. Free (no I/O). Not honest on Lambda, whose container count
  is unknown and changes.
- ``database``: in the shared database (`rate_limit_buckets`), one atomic upsert per request
  (refill and take in one statement under the row lock): exact across any number of processes
  and Lambda containers, at the price of one database round trip per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from dpp_producer.auth import Principal
from dpp_producer.errors import ProducerError

if TYPE_CHECKING:
    # Only annotated: the Lambda ingest path checks limits without importing Starlette.
    from starlette.requests import Request

    from dpp_store import RateLimitStore

DEFAULT_POLICY = "*"
MAX_BUCKET_NAME = 512  # rate_limit_buckets.bucket
_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_POLICY = re.compile(r"^(?P<count>\d+(?:\.\d+)?)/(?P<n>\d*)(?P<unit>[smh])(?::(?P<burst>\d+))?$")
Backend = Literal["memory", "database"]


class RateLimitedError(ProducerError):
    """The caller's token bucket is empty."""

    status = 429
    slug = "rate-limited"
    title = "Too many requests for this client"


@dataclass(frozen=True)
class RatePolicy:
    """`rate` requests per second on average, up to `burst` at once."""

    scope: str
    rate: float
    burst: float

    @property
    def window_s(self) -> int:
        """Seconds an empty bucket takes to fill (the `w` of RateLimit-Policy)."""
        return max(1, math.ceil(self.burst / self.rate))

    def share(self, processes: int) -> RatePolicy:
        """This process's part when `processes` processes each keep their own bucket."""
        if processes <= 1:
            return self
        return RatePolicy(self.scope, self.rate / processes, max(1.0, self.burst / processes))


def parse_policies(text: str) -> dict[str, RatePolicy]:
    """`DPP_RATE_LIMITS` as policies by scope; ValueError names the entry it cannot read."""
    policies: dict[str, RatePolicy] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        scope, separator, spec = entry.rpartition("=")
        match = _POLICY.match(spec.strip())
        if not separator or not scope.strip() or match is None:
            raise ValueError(
                f"DPP_RATE_LIMITS entry {entry!r} is not <scope>=<count>/<period>[:<burst>] "
                "(period: s, m, h or e.g. 10s)"
            )
        period = float(match["n"] or 1) * _PERIODS[match["unit"]]
        count = float(match["count"])
        if count <= 0 or period <= 0:
            raise ValueError(f"DPP_RATE_LIMITS entry {entry!r} allows nothing")
        burst = float(match["burst"]) if match["burst"] else max(1.0, count)
        policies[scope.strip()] = RatePolicy(scope.strip(), count / period, burst)
    return policies


def policy_for(policies: Mapping[str, RatePolicy], principal: Principal) -> RatePolicy | None:
    """The most generous policy among the token's scopes, else `*`, else None (unlimited)."""
    held = [policies[scope] for scope in principal.scopes if scope in policies]
    if held:
        return max(held, key=lambda policy: (policy.rate, policy.burst))
    return policies.get(DEFAULT_POLICY)


@dataclass(frozen=True)
class Decision:
    """The outcome of one take, and the RateLimit fields that describe it."""

    policy: RatePolicy
    allowed: bool
    remaining: float

    def headers(self) -> dict[str, str]:
        policy = self.policy
        name = policy.scope.replace("\\", "\\\\").replace('"', '\\"')
        until_full = math.ceil(max(0.0, policy.burst - self.remaining) / policy.rate)
        headers = {
            "RateLimit-Policy": f'"{name}";q={math.floor(policy.burst)};w={policy.window_s}',
            "RateLimit": f'"{name}";r={math.floor(self.remaining)};t={until_full}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil((1 - self.remaining) / policy.rate)))
        return headers


def bucket_name(policy: RatePolicy, principal: Principal) -> str:
    """One bucket per (policy, subject); a long name is hashed to fit the table's 512."""
    name = f"{policy.scope}\n{principal.subject}"
    if len(name.encode()) <= MAX_BUCKET_NAME:
        return name
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


class Buckets(Protocol):
    def take(self, bucket: str, policy: RatePolicy, now: float) -> tuple[bool, float]: ...


class MemoryBuckets:
    """Buckets of this process only (see the module docstring for several processes)."""

    def __init__(self, max_buckets: int = 100_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._max_buckets = max_buckets

    def take(self, bucket: str, policy: RatePolicy, now: float) -> tuple[bool, float]:
        with self._lock:
            tokens, at = self._buckets.get(bucket, (policy.burst, now))
            tokens = min(policy.burst, tokens + max(0.0, now - at) * policy.rate)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            if len(self._buckets) >= self._max_buckets and bucket not in self._buckets:
                self._buckets.clear()  # a flood of subjects: start over rather than grow
            self._buckets[bucket] = (tokens, max(now, at))
            return allowed, tokens


class DatabaseBuckets:
    """Buckets in the shared database: one atomic statement per take."""

    def __init__(self, store: Callable[[], RateLimitStore]) -> None:
        self._store = store

    def take(self, bucket: str, policy: RatePolicy, now: float) -> tuple[bool, float]:
        return self._store().take(bucket, rate=policy.rate, burst=policy.burst, now=now)


class RateLimiter:
    """Applies the configured policies to each authenticated request."""

    def __init__(
        self,
        policies: Mapping[str, RatePolicy],
        buckets: Buckets,
        *,
        shared: bool,
        processes: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policies = dict(policies)
        self._buckets = buckets
        self._shared = shared  # a database round trip: run it off the event loop
        self._processes = 1 if shared else processes
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return bool(self.policies)

    def take(self, principal: Principal) -> Decision | None:
        """Take a token for `principal`; None when no policy applies to it."""
        policy = policy_for(self.policies, principal)
        if policy is None:
            return None
        local = policy.share(self._processes)
        allowed, remaining = self._buckets.take(
            bucket_name(policy, principal), local, self._clock()
        )
        # Advertise the configured policy; the process's share is an implementation detail.
        scale = policy.burst / local.burst
        return Decision(policy, allowed, remaining * scale)

    async def check(self, principal: Principal) -> Decision | None:
        """`take`, raising RateLimitedError (429 with Retry-After and RateLimit fields)."""
        if not self.policies:
            return None
        if self._shared:
            decision = await asyncio.to_thread(self.take, principal)
        else:
            decision = self.take(principal)
        if decision is not None and not decision.allowed:
            raise RateLimitedError(
                f"{principal.subject!r} exceeded {decision.policy.rate:g} requests/s "
                f"(burst {decision.policy.burst:g}) of policy {decision.policy.scope!r}",
                headers=decision.headers(),
            )
        return decision


def build_rate_limiter(
    text: str,
    backend: Backend,
    processes: int,
    store: Callable[[], RateLimitStore],
) -> RateLimiter:
    policies = parse_policies(text)
    if backend == "database":
        return RateLimiter(policies, DatabaseBuckets(store), shared=True)
    return RateLimiter(policies, MemoryBuckets(), shared=False, processes=processes)


RATE_LIMIT_STATE = "rate_limit_headers"
"""Key in the ASGI scope's `state` holding the RateLimit fields of an allowed request, which
`RequestTelemetry` adds to whatever response the route sends."""


async def check_rate_limit(
    request: Request, limiter: RateLimiter | None, principal: Principal
) -> None:
    """The per-client limit of one authenticated request (raises RateLimitedError)."""
    headers = await rate_limit_headers(limiter, principal)
    if headers:
        setattr(request.state, RATE_LIMIT_STATE, headers)


async def rate_limit_headers(limiter: RateLimiter | None, principal: Principal) -> dict[str, str]:
    """Take one token for `principal`: the RateLimit fields its answer carries (none when no
    policy applies), or RateLimitedError. Every transport (FastAPI dependency, ASGI fast path,
    Lambda ingest) asks here."""
    if limiter is None or not limiter.enabled:
        return {}
    decision = await limiter.check(principal)
    return {} if decision is None else decision.headers()
