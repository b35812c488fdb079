"""Idempotency-Key answers: stored once, replayed until expiry, first writer wins a race."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dpp_store import IdempotencyStore
from tests.store.factories import ManualClock


def test_put_then_get_returns_the_stored_answer(idempotency_store: IdempotencyStore) -> None:
    assert idempotency_store.get("key-1", "alice") is None

    stored = idempotency_store.put("key-1", "alice", "hash-a", 202, b'{"id": "1"}', ttl_s=60)

    assert (stored.status_code, stored.body, stored.request_hash) == (202, b'{"id": "1"}', "hash-a")
    assert stored.expires_at > stored.created_at
    assert idempotency_store.get("key-1", "alice") == stored
    assert idempotency_store.get("key-1", "bob") is None  # keys are per principal


def test_second_put_returns_the_first_answer(idempotency_store: IdempotencyStore) -> None:
    first = idempotency_store.put("key-2", "alice", "hash-a", 202, b"first", ttl_s=60)
    second = idempotency_store.put("key-2", "alice", "hash-b", 500, b"second", ttl_s=60)
    assert second == first


def test_racing_puts_agree_on_one_answer(idempotency_store: IdempotencyStore) -> None:
    racers = 6
    barrier = threading.Barrier(racers)

    def put(worker: int) -> tuple[str, bytes]:
        barrier.wait(timeout=30)
        record = idempotency_store.put(
            "key-race", "alice", f"hash-{worker}", 202, f"body-{worker}".encode(), ttl_s=60
        )
        return record.request_hash, record.body

    with ThreadPoolExecutor(racers) as pool:
        answers = set(pool.map(put, range(racers)))

    assert len(answers) == 1
    stored = idempotency_store.get("key-race", "alice")
    assert stored is not None
    assert {(stored.request_hash, stored.body)} == answers


def test_expired_answers_are_gone_and_the_key_is_free_again(
    idempotency_store: IdempotencyStore, clock: ManualClock
) -> None:
    idempotency_store.put("key-3", "alice", "hash-a", 202, b"old", ttl_s=30)
    clock.advance(29)
    assert idempotency_store.get("key-3", "alice") is not None
    clock.advance(1)
    assert idempotency_store.get("key-3", "alice") is None

    renewed = idempotency_store.put("key-3", "alice", "hash-b", 201, b"new", ttl_s=30)
    assert (renewed.request_hash, renewed.body) == ("hash-b", b"new")
    assert idempotency_store.get("key-3", "alice") == renewed


def test_purge_expired_deletes_only_expired(
    idempotency_store: IdempotencyStore, clock: ManualClock
) -> None:
    idempotency_store.put("short", "alice", "h", 202, b"", ttl_s=10)
    idempotency_store.put("long", "alice", "h", 202, b"", ttl_s=100)
    clock.advance(50)

    assert idempotency_store.purge_expired() == 1
    assert idempotency_store.purge_expired() == 0
    assert idempotency_store.get("long", "alice") is not None


def test_non_positive_ttl_is_rejected(idempotency_store: IdempotencyStore) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        idempotency_store.put("k", "alice", "h", 202, b"", ttl_s=0)
