"""The cache of verified bearer tokens: hits skip verification, expiry and secrets still hold."""

from __future__ import annotations

import time

import pytest

from dpp_producer.auth import Principal, VerifiedTokens, authenticate, mint_token
from dpp_producer.errors import AuthenticationError

SECRET = "cache-test-secret-" + "y" * 32
OTHER_SECRET = "another-cache-test-secret-" + "z" * 32


def test_a_verified_token_is_remembered_and_answers_the_same_principal() -> None:
    verified = VerifiedTokens()
    token = mint_token(SECRET, subject="svc-a", scope="events:demo events:persona")
    first = authenticate(f"Bearer {token}", SECRET, verified=verified)
    assert verified.get(token, SECRET, None) == first
    second = authenticate(f"Bearer {token}", SECRET, verified=verified)
    assert second == first == Principal("svc-a", frozenset({"events:demo", "events:persona"}))


def test_a_remembered_token_is_still_refused_with_another_secret_or_audience() -> None:
    verified = VerifiedTokens()
    token = mint_token(SECRET, subject="svc-a", scope="events:*")
    authenticate(f"Bearer {token}", SECRET, verified=verified)
    with pytest.raises(AuthenticationError, match="invalid token"):
        authenticate(f"Bearer {token}", OTHER_SECRET, verified=verified)
    with pytest.raises(AuthenticationError, match="invalid token"):
        authenticate(f"Bearer {token}", SECRET, "some-audience", verified=verified)


def test_a_remembered_token_past_its_exp_is_verified_again_and_refused() -> None:
    verified = VerifiedTokens()
    expired = mint_token(SECRET, subject="svc-a", scope="events:*", ttl_s=-10)
    # As if it had been verified while still valid: its exp has passed since.
    verified.put(expired, SECRET, None, Principal("svc-a", frozenset({"events:*"})), time.time())
    with pytest.raises(AuthenticationError, match="expired"):
        authenticate(f"Bearer {expired}", SECRET, verified=verified)
    assert verified.get(expired, SECRET, None) is None


def test_refused_tokens_are_not_remembered() -> None:
    verified = VerifiedTokens()
    token = mint_token(OTHER_SECRET, subject="svc-a", scope="events:*")
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            authenticate(f"Bearer {token}", SECRET, verified=verified)
    assert verified.get(token, SECRET, None) is None


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    verified = VerifiedTokens(max_size=2)
    tokens = [mint_token(SECRET, subject=f"svc-{i}", scope="events:*") for i in range(3)]
    authenticate(f"Bearer {tokens[0]}", SECRET, verified=verified)
    authenticate(f"Bearer {tokens[1]}", SECRET, verified=verified)
    authenticate(f"Bearer {tokens[0]}", SECRET, verified=verified)  # 0 is now the most recent
    authenticate(f"Bearer {tokens[2]}", SECRET, verified=verified)
    assert verified.get(tokens[1], SECRET, None) is None
    assert verified.get(tokens[0], SECRET, None) == Principal("svc-0", frozenset({"events:*"}))
    assert verified.get(tokens[2], SECRET, None) == Principal("svc-2", frozenset({"events:*"}))
