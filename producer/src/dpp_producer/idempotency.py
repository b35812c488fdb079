"""Idempotency-Key handling on the shared status store: replay the first answer, refuse reuse."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dpp_producer.errors import IdempotencyConflictError, MalformedRequestError

if TYPE_CHECKING:
    from dpp_store import IdempotencyStore

MAX_KEY_LENGTH = 255
# Visible ASCII with inner spaces: HTTP trims a value's outer whitespace and does not carry
# other characters reliably. docs/openapi.json declares this very pattern for the header.
KEY_PATTERN = rf"^[!-~](?:[ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer worth remembering: status code and JSON body bytes."""

    status_code: int
    body: bytes
    replayed: bool = False


def request_fingerprint(route: str, document: Any) -> str:
    """Hash of what was asked: the route and the JSON body in canonical form, so whitespace and
    key order do not make the same request look different."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()


def check_key(key: str) -> str:
    if _KEY.match(key) is None:
        raise MalformedRequestError(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters, "
            "without leading or trailing spaces",
            issues=[],
            header="Idempotency-Key",
        )
    return key


class IdempotencyGuard:
    """Runs a request at most once per (principal, key) within the TTL.

    Answers are stored in the shared status store (`IdempotencyStore`, SQLite or PostgreSQL),
    so every process and Lambda container sees them. Only 2xx answers are stored: a 429/503 must
    stay retryable with the same key. A per-key lock serialises duplicates inside a process."""

    def __init__(self, store_factory: Callable[[], IdempotencyStore], ttl_s: float) -> None:
        self._store_factory = store_factory
        self._store: IdempotencyStore | None = None
        self._store_lock = threading.Lock()
        self._ttl_s = ttl_s
        # (principal, key) -> (lock, number of requests using it), dropped when unused.
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    def _get_store(self) -> IdempotencyStore:
        with self._store_lock:
            if self._store is None:
                store = self._store_factory()
                store.migrate()
                self._store = store
            return self._store

    async def run(
        self,
        key: str,
        principal: str,
        fingerprint: str,
        produce_answer: Callable[[], Awaitable[Answer]],
    ) -> Answer:
        slot = (principal, key)
        lock, users = self._locks.get(slot, (asyncio.Lock(), 0))
        self._locks[slot] = (lock, users + 1)
        try:
            async with lock:
                return await self._run_locked(key, principal, fingerprint, produce_answer)
        finally:
            lock, users = self._locks[slot]
            if users == 1:
                del self._locks[slot]
            else:
                self._locks[slot] = (lock, users - 1)

    async def _run_locked(
        self,
        key: str,
        principal: str,
        fingerprint: str,
        produce_answer: Callable[[], Awaitable[Answer]],
    ) -> Answer:
        store = await asyncio.to_thread(self._get_store)
        existing = await asyncio.to_thread(store.get, key, principal)
        if existing is not None:
            return self._replay(
                existing.request_hash, fingerprint, existing.status_code, existing.body
            )
        answer = await produce_answer()
        if not 200 <= answer.status_code < 300:
            return answer
        stored = await asyncio.to_thread(
            store.put, key, principal, fingerprint, answer.status_code, answer.body, self._ttl_s
        )
        if stored.request_hash != fingerprint or stored.body != answer.body:
            # Another process won the race for this key; its answer is the one that counts.
            return self._replay(stored.request_hash, fingerprint, stored.status_code, stored.body)
        return answer

    @staticmethod
    def _replay(stored_hash: str, fingerprint: str, status_code: int, body: bytes) -> Answer:
        if stored_hash != fingerprint:
            raise IdempotencyConflictError(
                "this Idempotency-Key was already used with a different request body",
            )
        return Answer(status_code, body, replayed=True)
