"""Scheduled purge of expired idempotency keys: a thread in the ops service, logged and measured."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from dpp_store import IdempotencyStore

log = logging.getLogger("dpp.ops.purge")


@dataclass(frozen=True, slots=True)
class PurgeRun:
    """One purge: when, how many keys it deleted, how long it took, or why it failed."""

    at: float
    deleted: int
    duration_s: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class IdempotencyPurger:
    """Runs :meth:`IdempotencyStore.purge_expired` every ``every_s`` seconds on its own thread.

    Expired answers are never replayed (``get`` filters on ``expires_at``), so the purge only
    keeps the table small; running it on two ops services at once is harmless (a DELETE of
    the same expired rows). Every run is logged and kept in :attr:`last` and :attr:`total`
    for the page, the API and the ``dpp_idempotency_*`` metrics.
    """

    def __init__(self, store: IdempotencyStore, every_s: float) -> None:
        if every_s <= 0:
            raise ValueError("every_s must be positive")
        self.store = store
        self.every_s = every_s
        self.last: PurgeRun | None = None
        self.total = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run_once(self) -> PurgeRun:
        started = time.monotonic()
        try:
            deleted = self.store.purge_expired()
        except Exception as error:  # StoreUnavailableError, a store not migrated yet...
            run = PurgeRun(
                time.time(), 0, time.monotonic() - started, f"{type(error).__name__}: {error}"
            )
            log.warning("purging expired idempotency keys failed: %s", run.error)
            with self._lock:
                self.failures += 1
                self.last = run
            return run
        run = PurgeRun(time.time(), deleted, time.monotonic() - started)
        log.info(
            "purged %d expired idempotency key(s) in %.0f ms; next in %.0f s",
            deleted, run.duration_s * 1000, self.every_s,
        )  # fmt: skip
        with self._lock:
            self.total += deleted
            self.last = run
        return run

    def view(self) -> dict[str, Any]:
        """What the page and ``/api/maintenance`` show."""
        with self._lock:
            last = None if self.last is None else self.last.as_dict()
            return {
                "every_s": self.every_s,
                "last": last,
                "next_at": None if self.last is None else self.last.at + self.every_s,
                "purged_total": self.total,
                "failures": self.failures,
            }

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dpp-idempotency-purge", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.every_s)
