"""The process's one Kafka producer: produce a record and await the broker's acknowledgement."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dpp_producer.errors import BrokerUnavailableError, ProduceFailedError, QueueFullError
from dpp_shared.codec import KafkaRecord

# Delivery errors that mean "the broker did not acknowledge (yet)" rather than "refused".
_UNAVAILABLE_CODES = frozenset({"_MSG_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN", "_TIMED_OUT"})
_POLL_INTERVAL_S = 0.05


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored an acknowledged record."""

    topic: str
    partition: int
    offset: int


ProduceListener = Callable[[str], None]


class EventPublisher:
    """Wraps one confluent-kafka Producer (acks=all, idempotent) and a poll thread that resolves
    one asyncio future per record, so a request awaits exactly its own acknowledgement.

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
        self._config = {**config, "queue.buffering.max.messages": queue_limit}
        self.ack_timeout_s = ack_timeout_s
        self.retry_after_s = retry_after_s
        self._on_error = on_error
        self._producer: Any = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None
        self._ready_at = 0.0
        self._ready = False

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
        producer = self._producer
        while not self._stopping.is_set():
            producer.poll(_POLL_INTERVAL_S)

    def queue_depth(self) -> int:
        """Records handed to the producer and not yet acknowledged or failed."""
        return len(self._producer) if self._producer is not None else 0

    async def publish(self, record: KafkaRecord) -> Delivery:
        """Produce `record` and wait, at most `ack_timeout_s`, for the broker's acknowledgement.

        On timeout the record stays queued and may still be delivered: delivery is at-least-once,
        and the consumer's job store dedupes by event id."""
        producer = self.start()
        loop = asyncio.get_running_loop()
        acknowledged: asyncio.Future[Delivery] = loop.create_future()

        def on_delivery(error: Any, message: Any) -> None:
            # Runs on the poll thread; the loop may be gone if the request already timed out.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, acknowledged, error, message, self.retry_after_s)

        try:
            producer.produce(
                record.topic,
                value=record.value,
                key=record.key,
                headers=record.headers,
                on_delivery=on_delivery,
            )
        except BufferError:
            self._count_error("queue_full")
            raise QueueFullError(
                f"the local produce queue holds {self.queue_depth()} records; retry shortly",
                headers={"Retry-After": str(self.retry_after_s)},
            ) from None
        except Exception as error:  # KafkaException for a record librdkafka refuses up front
            self._count_error("refused")
            raise ProduceFailedError(f"the producer refused the record: {error}") from None
        try:
            return await asyncio.wait_for(acknowledged, self.ack_timeout_s)
        except TimeoutError:
            self._count_error("ack_timeout")
            raise BrokerUnavailableError(
                f"the broker did not acknowledge within {self.ack_timeout_s:g} s; the event may "
                "still be delivered, retry with the same event id or Idempotency-Key",
                retry_after_s=self.retry_after_s,
            ) from None
        except BrokerUnavailableError:
            self._count_error("unavailable")
            raise
        except ProduceFailedError:
            self._count_error("rejected")
            raise

    def _count_error(self, reason: str) -> None:
        if self._on_error is not None:
            self._on_error(reason)

    def flush(self, timeout_s: float) -> int:
        """Wait up to `timeout_s` for queued records; returns how many are still queued."""
        if self._producer is None:
            return 0
        return int(self._producer.flush(timeout_s))

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


def _settle(future: asyncio.Future[Delivery], error: Any, message: Any, retry_after_s: int) -> None:
    if future.done():  # the request timed out and cancelled it; the record is delivered anyway
        return
    if error is None:
        future.set_result(Delivery(message.topic(), message.partition(), message.offset()))
    elif error.name() in _UNAVAILABLE_CODES or error.retriable():
        future.set_exception(
            BrokerUnavailableError(
                f"the broker did not acknowledge: {error.str()}", retry_after_s=retry_after_s
            )
        )
    else:
        future.set_exception(ProduceFailedError(f"the broker rejected the record: {error.str()}"))
