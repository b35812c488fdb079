"""The process's one Kafka producer: produce records and await the broker's acknowledgements."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from dpp_producer.errors import (
    BrokerUnavailableError,
    ProduceFailedError,
    ProducerError,
    QueueFullError,
)
from dpp_shared.codec import KafkaRecord

# Delivery errors that mean "the broker did not acknowledge (yet)" rather than "refused".
_UNAVAILABLE_CODES = frozenset({"_MSG_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN", "_TIMED_OUT"})
_POLL_INTERVAL_S = 0.05
_FATAL_CAUSE_WAIT_S = 2.0


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored an acknowledged record."""

    topic: str
    partition: int
    offset: int


ProduceListener = Callable[[str], None]


class EventPublisher:
    """Wraps one confluent-kafka Producer (acks=all, idempotent) and a poll thread that resolves
    one asyncio future per `publish_many` call, so a request awaits exactly its own records.

    Nothing connects until `start()` or the first `publish()`: app creation stays cheap (Lambda
    cold start) and the same object serves uvicorn (lifespan-managed) and Lambda (lazy)."""

    def __init__(
        self,
        config: dict[str, Any],
        *,
        ack_timeout_s: float,
        retry_after_s: int,
        queue_limit: int,
        on_error: ProduceListener | None = None,
    ) -> None:
        self._config = {
            **config,
            "queue.buffering.max.messages": queue_limit,
            "error_cb": self._kafka_error,
        }
        self.ack_timeout_s = ack_timeout_s
        self.retry_after_s = retry_after_s
        self._on_error = on_error
        self._producer: Any = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None
        self._ready_at = 0.0
        self._ready = False
        # A fatal producer error (for example the role may not write idempotently): every
        # later call fails at once with it, and the next one after that starts a new producer.
        self._fatal: str | None = None
        self._waiting: set[_Acknowledgements] = set()

    @property
    def started(self) -> bool:
        return self._producer is not None

    def start(self) -> Any:
        """Create the producer and its poll thread once; returns the producer."""
        with self._lock:
            if self._producer is None:
                from confluent_kafka import Producer  # noqa: PLC0415 - keep cold start lean

                self._producer = Producer(self._config)
                self._stopping.clear()
                self._poller = threading.Thread(
                    target=self._poll_forever, name="dpp-producer-poll", daemon=True
                )
                self._poller.start()
            return self._producer

    def _poll_forever(self) -> None:
        from confluent_kafka import KafkaException  # noqa: PLC0415 - loaded with the producer

        producer = self._producer
        while not self._stopping.is_set():
            try:
                producer.poll(_POLL_INTERVAL_S)
            except KafkaException as error:
                # librdkafka raises a fatal error here (no delivery report follows): answer
                # every waiting request with it now instead of after the ack timeout.
                self._failed(_error_text(error))
                return

    def _kafka_error(self, error: Any) -> None:
        """librdkafka's error callback (poll thread): only a fatal error changes anything."""
        if error.fatal():
            self._failed(error.str())

    def _failed(self, cause: str) -> None:
        with self._lock:
            if self._fatal is None:
                self._fatal = cause
            cause = self._fatal
            waiting = list(self._waiting)
        for acks in waiting:
            acks.fail_pending(ProduceFailedError(f"the Kafka producer failed: {cause}"))

    def _replace_failed_producer(self) -> str | None:
        """Drop a producer that failed fatally; returns its cause (None when none failed)."""
        if self._fatal is None:  # the usual case, every request: no lock to take
            return None
        with self._lock:
            cause = self._fatal
            if cause is None:
                return None
            failed, self._producer, self._poller, self._fatal = self._producer, None, None, None
        with contextlib.suppress(Exception):  # a fatally failed producer refuses calls
            failed.purge()
        return cause

    def queue_depth(self) -> int:
        """Records handed to the producer and not yet acknowledged or failed."""
        return len(self._producer) if self._producer is not None else 0

    async def publish(self, record: KafkaRecord) -> Delivery:
        """Produce `record` and wait, at most `ack_timeout_s`, for the broker's acknowledgement.

        On timeout the record stays queued and may still be delivered: delivery is at-least-once,
        and the consumer's job store dedupes by event id."""
        (outcome,) = await self.publish_many([record])
        if isinstance(outcome, ProducerError):
            raise outcome
        return outcome

    async def publish_many(self, records: Sequence[KafkaRecord]) -> list[Delivery | ProducerError]:
        """Produce every record, then wait (at most `ack_timeout_s` in all) until the broker has
        acknowledged or refused each; one outcome per record, in order.

        The records are handed to librdkafka back to back, so it batches them into a few
        produce requests; the poll thread only counts acknowledgements down and wakes the event
        loop once, when the last one arrives. A record that times out stays queued and may
        still be delivered (at-least-once; the consumer's job store dedupes by event id)."""
        cause = self._replace_failed_producer()
        if cause is not None:
            failure = ProduceFailedError(f"the Kafka producer failed: {cause}")
            for _record in records:
                self._count_error("fatal")
            return [failure for _record in records]
        producer = self.start()
        acks = _Acknowledgements(asyncio.get_running_loop(), len(records), self.retry_after_s)
        with self._lock:
            self._waiting.add(acks)
        try:
            return await self._produce_and_wait(producer, records, acks)
        finally:
            with self._lock:
                self._waiting.discard(acks)

    async def _produce_and_wait(
        self, producer: Any, records: Sequence[KafkaRecord], acks: _Acknowledgements
    ) -> list[Delivery | ProducerError]:
        fatal: list[int] = []
        fallback = ""
        for index, record in enumerate(records):
            try:
                producer.produce(
                    record.topic,
                    value=record.value,
                    key=record.key,
                    headers=record.headers,
                    on_delivery=partial(acks.delivered, index),
                )
            except BufferError:
                acks.refused(
                    index,
                    QueueFullError(
                        f"the local produce queue holds {self.queue_depth()} records; retry "
                        "shortly",
                        headers={"Retry-After": str(self.retry_after_s)},
                    ),
                )
            except Exception as error:  # KafkaException for a record librdkafka refuses up front
                if _is_fatal(error):
                    fatal.append(index)
                    fallback = str(error)
                else:
                    acks.refused(
                        index, ProduceFailedError(f"the producer refused the record: {error}")
                    )
        if fatal:
            cause = await self._fatal_cause(fallback)
            for index in fatal:
                failure = ProduceFailedError(f"the Kafka producer failed: {cause}")
                acks.refused(index, failure, reason="fatal")
        acks.all_produced()
        if not acks.settled.done():
            # The ack timeout settles the future itself: a timer is far cheaper per request
            # than `wait_for` over `shield` (a waiter future and callbacks for each).
            timer = asyncio.get_running_loop().call_later(
                self.ack_timeout_s, _resolve, acks.settled
            )
            try:
                await acks.settled
            finally:
                timer.cancel()
        outcomes, failure_reasons = acks.outcomes(self.ack_timeout_s)
        for reason in failure_reasons:
            self._count_error(reason)
        return outcomes

    async def _fatal_cause(self, fallback: str) -> str:
        """The cause of the producer's fatal error. `produce` refuses with a bare "Fatal error"
        as soon as it happened; the cause comes with the error event the poll thread serves
        next, within one poll interval (waited for at most `_FATAL_CAUSE_WAIT_S`)."""
        deadline = time.monotonic() + _FATAL_CAUSE_WAIT_S
        while self._fatal is None and time.monotonic() < deadline:
            await asyncio.sleep(_POLL_INTERVAL_S / 5)
        return self._fatal or fallback

    def _count_error(self, reason: str) -> None:
        if self._on_error is not None:
            self._on_error(reason)

    def flush(self, timeout_s: float) -> int:
        """Wait up to `timeout_s` for queued records; returns how many are still queued."""
        if self._producer is None:
            return 0
        try:
            return int(self._producer.flush(timeout_s))
        except Exception:  # KafkaException: a fatally failed producer delivers nothing more
            return self.queue_depth()

    def close(self, timeout_s: float = 10.0) -> int:
        """Flush, stop the poll thread and drop the producer; returns records left undelivered."""
        left = self.flush(timeout_s)
        self._stopping.set()
        if self._poller is not None:
            self._poller.join(timeout=timeout_s)
        with self._lock:
            self._producer = None
            self._poller = None
        return left

    def broker_reachable(self, *, timeout_s: float, cache_s: float) -> bool:
        """Whether a metadata request succeeds; cached for `cache_s` so probes stay cheap."""
        now = time.monotonic()
        if now - self._ready_at < cache_s:
            return self._ready
        producer = self.start()
        try:
            metadata = producer.list_topics(timeout=timeout_s)
            self._ready = bool(metadata.brokers)
        except Exception:  # KafkaException on timeout or transport failure
            self._ready = False
        self._ready_at = time.monotonic()
        return self._ready


class _Acknowledgements:
    """The outcomes of one `publish_many` call, filled in by delivery reports on the poll thread
    (or by `flush` on another thread); the event loop is woken once, when none is pending."""

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int, retry_after_s: int) -> None:
        self._loop = loop
        self._retry_after_s = retry_after_s
        self._outcomes: list[Delivery | ProducerError | None] = [None] * count
        self._reasons: dict[int, str] = {}
        # One extra count for the producing loop itself, released by `all_produced`, so the
        # future cannot settle while records are still being handed over.
        self._pending = count + 1
        self._lock = threading.Lock()
        self.settled: asyncio.Future[None] = loop.create_future()

    def delivered(self, index: int, error: Any, message: Any) -> None:
        """Delivery report of record `index` (poll thread)."""
        if error is None:
            outcome: Delivery | ProducerError = Delivery(
                message.topic(), message.partition(), message.offset()
            )
        elif error.name() in _UNAVAILABLE_CODES or error.retriable():
            outcome = BrokerUnavailableError(
                f"the broker did not acknowledge: {error.str()}",
                retry_after_s=self._retry_after_s,
            )
            self._reasons[index] = "unavailable"
        else:
            outcome = ProduceFailedError(f"the broker rejected the record: {error.str()}")
            self._reasons[index] = "rejected"
        self._outcomes[index] = outcome
        if self._release():
            # The loop may be gone if the request already timed out and finished.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(_resolve, self.settled)

    def refused(self, index: int, error: ProducerError, reason: str | None = None) -> None:
        """Record `index` never reached the producer's queue (event loop)."""
        self._outcomes[index] = error
        default = "queue_full" if isinstance(error, QueueFullError) else "refused"
        self._reasons[index] = reason or default
        if self._release():
            _resolve(self.settled)

    def fail_pending(self, error: ProducerError) -> None:
        """The producer failed for good (poll thread): every unanswered record gets `error`."""
        with self._lock:
            for index, outcome in enumerate(self._outcomes):
                if outcome is None:
                    self._outcomes[index] = error
                    self._reasons[index] = "fatal"
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(_resolve, self.settled)

    def all_produced(self) -> None:
        """Every record was handed over (event loop)."""
        if self._release():
            _resolve(self.settled)

    def _release(self) -> bool:
        with self._lock:
            self._pending -= 1
            return self._pending == 0

    def outcomes(self, ack_timeout_s: float) -> tuple[list[Delivery | ProducerError], list[str]]:
        """Each record's outcome (one still unacknowledged is an ack timeout), and the reason of
        each failure for the error counter."""
        result: list[Delivery | ProducerError] = []
        reasons: list[str] = []
        for index, outcome in enumerate(list(self._outcomes)):
            if outcome is None:
                reasons.append("ack_timeout")
                result.append(
                    BrokerUnavailableError(
                        f"the broker did not acknowledge within {ack_timeout_s:g} s; the event "
                        "may still be delivered, retry with the same event id or Idempotency-Key",
                        retry_after_s=self._retry_after_s,
                    )
                )
                continue
            if isinstance(outcome, ProducerError):
                reasons.append(self._reasons.get(index, "unavailable"))
            result.append(outcome)
        return result, reasons


def _is_fatal(error: Exception) -> bool:
    """A `produce` refusal because the producer failed fatally: code `_FATAL` (its `fatal()`
    flag is not always set on the refusal itself)."""
    from confluent_kafka import KafkaError  # noqa: PLC0415 - loaded with the producer

    first = error.args[0] if error.args else None
    code = getattr(first, "code", None)
    fatal = getattr(first, "fatal", None)
    return (callable(code) and code() == KafkaError._FATAL) or (callable(fatal) and bool(fatal()))


def _error_text(error: Exception) -> str:
    first = error.args[0] if error.args else None
    text = getattr(first, "str", None)
    return str(text()) if callable(text) else str(error)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
