"""Per-client limits: a token bucket per subject, sized per scope; 429 with the IETF fields."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dpp_producer.auth import Principal
from dpp_producer.rate_limit import DatabaseBuckets, MemoryBuckets, RateLimiter, parse_policies
from dpp_store import RateLimitStore
from tests.producer import factories
from tests.producer.conftest import AppFactory

POLICY_FIELD = re.compile(r'^"(?P<name>[^"]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')
STATE_FIELD = re.compile(r'^"(?P<name>[^"]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


def _post(client: TestClient, subject: str, scope: str = "events:*") -> Any:
    return client.post(
        "/v1/events", json=factories.demo_event(), headers=factories.auth(scope, subject)
    )


def test_a_subject_over_its_limit_gets_429_with_retry_after_and_ratelimit_fields(
    make_app: AppFactory,
) -> None:
    app = make_app(DPP_RATE_LIMITS="events:*=2/m:2,events:demo=1/m,*=5/s")
    with TestClient(app) as client:
        first = _post(client, "alice")
        assert first.status_code == 202
        assert POLICY_FIELD.match(first.headers["ratelimit-policy"]).groupdict() == {  # type: ignore[union-attr]
            "name": "events:*",
            "q": "2",
            "w": "60",
        }
        assert STATE_FIELD.match(first.headers["ratelimit"])["r"] == "1"  # type: ignore[index]
        assert _post(client, "alice").status_code == 202
        refused = _post(client, "alice")
        assert refused.status_code == 429
        assert refused.json()["type"].endswith("rate-limited")
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 30  # one token of 2 per minute
        state = STATE_FIELD.match(refused.headers["ratelimit"])
        assert state is not None and state["r"] == "0" and 0 < int(state["t"]) <= 60
        assert refused.headers["ratelimit-policy"] == '"events:*";q=2;w=60'

        # Buckets are per subject: bob is not slowed down by alice.
        assert _post(client, "bob").status_code == 202
        # Sized per scope: a token with only events:demo gets that policy (1 per minute).
        assert _post(client, "carol", "events:demo").status_code == 202
        narrow = _post(client, "carol", "events:demo")
        assert narrow.status_code == 429
        assert narrow.headers["ratelimit-policy"] == '"events:demo";q=1;w=60'
        # A token holding none of the listed scopes gets `*`; reading jobs counts too.
        jobs = client.get("/v1/jobs/x", headers=factories.auth("jobs:read", "dave"))
        assert jobs.status_code == 404
        assert jobs.headers["ratelimit-policy"] == '"*";q=5;w=1'


def test_without_policies_nothing_is_limited_or_advertised(client: TestClient) -> None:
    for _ in range(3):
        response = _post(client, "alice")
        assert response.status_code == 202
        assert "ratelimit" not in response.headers


def test_the_database_backend_is_one_bucket_for_every_process(
    make_app: AppFactory, database_url: str
) -> None:
    """Two apps (two processes, or two Lambda containers) share the bucket in the database."""
    settings = {
        "database_url": database_url,
        "DPP_RATE_LIMITS": "events:*=3/h",
        "DPP_RATE_LIMIT_BACKEND": "database",
    }
    with TestClient(make_app(**settings)) as one, TestClient(make_app(**settings)) as two:
        statuses = [_post(client, "alice").status_code for client in (one, two, one, two)]
        assert statuses == [202, 202, 202, 429]
        assert _post(one, "bob").status_code == 202


def test_concurrent_takes_never_spend_a_token_twice(database_url: str) -> None:
    store = RateLimitStore.from_url(database_url, pool_size=8, max_overflow=8)
    store.migrate()
    now = time.time()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(
                pool.map(lambda _: store.take("race", rate=0.001, burst=10, now=now)[0], range(40))
            )
    finally:
        store.close()
    assert outcomes.count(True) == 10


def test_the_bucket_refills_at_the_rate_up_to_the_burst() -> None:
    clock = [100.0]
    limiter = RateLimiter(
        parse_policies("events:*=2/s:4"), MemoryBuckets(), shared=False, clock=lambda: clock[0]
    )
    alice = Principal("alice", frozenset({"events:*"}))
    taken = [limiter.take(alice) for _ in range(5)]
    assert [decision.allowed for decision in taken if decision] == [True] * 4 + [False]
    clock[0] += 1.0  # two tokens back
    assert [limiter.take(alice).allowed for _ in range(3)] == [True, True, False]  # type: ignore[union-attr]
    clock[0] += 60.0  # never more than the burst
    assert [limiter.take(alice).allowed for _ in range(5)] == [True] * 4 + [False]  # type: ignore[union-attr]


def test_per_process_buckets_enforce_their_share_of_the_limit() -> None:
    """DPP_RATE_LIMIT_PROCESSES=N: each of N processes allows 1/N (exact under round robin)."""
    clock = [0.0]
    processes = [
        RateLimiter(
            parse_policies("events:*=10/m:4"),
            MemoryBuckets(),
            shared=False,
            processes=2,
            clock=lambda: clock[0],
        )
        for _ in range(2)
    ]
    alice = Principal("alice", frozenset({"events:*"}))
    allowed = [
        decision.allowed
        for _ in range(4)
        for limiter in processes
        if (decision := limiter.take(alice)) is not None
    ]
    assert allowed.count(True) == 4  # 2 + 2, the configured burst across both


@pytest.mark.parametrize(
    "text",
    ["events:*=10", "events:*=x/s", "=10/s", "events:*=0/s", "events:*=10/d"],
)
def test_unreadable_policies_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="DPP_RATE_LIMITS"):
        parse_policies(text)


def test_a_very_long_subject_still_fits_its_bucket(database_url: str) -> None:
    store = RateLimitStore.from_url(database_url)
    store.migrate()
    try:
        limiter = RateLimiter(parse_policies("*=1/h"), DatabaseBuckets(lambda: store), shared=True)
        long_subject = Principal("x" * 2000, frozenset())
        decisions = [limiter.take(long_subject) for _ in range(2)]
        assert [decision.allowed for decision in decisions if decision] == [True, False]
    finally:
        store.close()
