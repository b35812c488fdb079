"""Retry and dead-letter routing: where a failed record goes, and the headers it carries."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from dpp_consumer.errors import JobError
from dpp_shared.codec import Headers
from dpp_shared.errors import DppError, EventDecodeError
from dpp_shared.headers import (  # the worker writes them; dpp_ops reads them
    ATTEMPT,
    ERROR,
    ERROR_TYPE,
    FAILED_AT,
    HEADER_PREFIX,
    NOT_BEFORE,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_TOPIC,
    RETRIABLE,
)
from dpp_shared.topics import DEAD_LETTER_TOPIC, TopicNamespace, retry_topic_name

MAX_ERROR_CHARS = 2_000


@dataclass(frozen=True)
class Failure:
    """Why a job attempt failed, and whether another attempt can help."""

    error_type: str
    message: str
    retriable: bool

    @classmethod
    def of(cls, error: BaseException) -> Failure:
        """Classify an exception: schema/decode errors and PermanentJobError are permanent;
        RetriableJobError and anything unexpected (a handler crash, a model error) retriable."""
        message = str(error) or type(error).__name__
        if isinstance(error, JobError):
            return cls(error.error_type, message, error.retriable)
        if isinstance(error, EventDecodeError | ValidationError):
            return cls(type(error).__name__, message, retriable=False)
        if not isinstance(error, DppError):
            message = "".join(traceback.format_exception_only(error)).strip()
        return cls(type(error).__name__, message, retriable=True)


@dataclass(frozen=True)
class Delivery:
    """Where a record stands in its retry history, read from its `dpp-*` headers."""

    attempt: int
    original_topic: str
    original_partition: int
    original_offset: int
    not_before: datetime | None

    @classmethod
    def of(cls, topic: str, partition: int, offset: int, headers: dict[str, str]) -> Delivery:
        """For a first delivery the original is this record; retries carry the original's."""
        try:
            attempt = max(int(headers.get(ATTEMPT, "1")), 1)
            original_partition = int(headers.get(ORIGINAL_PARTITION, partition))
            original_offset = int(headers.get(ORIGINAL_OFFSET, offset))
            not_before = (
                datetime.fromisoformat(headers[NOT_BEFORE]) if NOT_BEFORE in headers else None
            )
        except ValueError:  # mangled retry headers must not make a record undeliverable
            return cls(1, topic, partition, offset, None)
        return cls(
            attempt=attempt,
            original_topic=headers.get(ORIGINAL_TOPIC, topic),
            original_partition=original_partition,
            original_offset=original_offset,
            not_before=not_before,
        )

    def at_attempt(self, attempt: int) -> Delivery:
        """The same original record, counted as ``attempt`` and due now."""
        return replace(self, attempt=attempt, not_before=None)


@dataclass(frozen=True)
class Route:
    """Where to send a failed record: a retry tier (`tier` >= 1) or the dead letters (tier 0)."""

    topic: str
    tier: int
    headers: Headers

    @property
    def dead(self) -> bool:
        return self.tier == 0


class RetryPolicy:
    """Attempts and delays: attempt n (1-based) that fails goes to tier min(n, tiers), until
    `max_attempts`, then to the dead-letter topic. Permanent failures skip the tiers."""

    def __init__(
        self, namespace: TopicNamespace, *, max_attempts: int, delays_s: Sequence[float]
    ) -> None:
        self.namespace = namespace
        self.max_attempts = max_attempts
        self.delays_s = tuple(delays_s)

    def retry_topics(self, topic: str) -> list[str]:
        """Physical retry-tier topics of logical `topic`."""
        return [
            self.namespace.physical(retry_topic_name(topic, tier))
            for tier in range(1, len(self.delays_s) + 1)
        ]

    def route(
        self,
        *,
        job_topic: str | None,
        delivery: Delivery,
        failure: Failure,
        headers: Sequence[tuple[str, bytes | None]] | None,
        now: datetime | None = None,
    ) -> Route:
        """Route a failed attempt. `job_topic` is the logical topic of the job's event type
        (None when the record is not a decodable job event: those can only be dead letters)."""
        now = now or datetime.now(UTC)
        retry = job_topic is not None and failure.retriable and delivery.attempt < self.max_attempts
        extra: dict[str, str] = {
            ERROR: failure.message[:MAX_ERROR_CHARS],
            ERROR_TYPE: failure.error_type,
            RETRIABLE: "true" if failure.retriable else "false",
            ATTEMPT: str(delivery.attempt + 1 if retry else delivery.attempt),
            ORIGINAL_TOPIC: delivery.original_topic,
            ORIGINAL_PARTITION: str(delivery.original_partition),
            ORIGINAL_OFFSET: str(delivery.original_offset),
            FAILED_AT: now.isoformat(),
        }
        if retry and job_topic is not None:
            tier = min(delivery.attempt, len(self.delays_s))
            not_before = now + timedelta(seconds=self.delays_s[tier - 1])
            extra[NOT_BEFORE] = not_before.isoformat()
            topic = self.namespace.physical(retry_topic_name(job_topic, tier))
        else:
            tier = 0
            topic = self.namespace.physical(DEAD_LETTER_TOPIC)
        return Route(topic=topic, tier=tier, headers=with_headers(headers, extra))


def with_headers(
    headers: Sequence[tuple[str, bytes | None]] | None, extra: dict[str, str]
) -> Headers:
    """The record's own headers without any previous `dpp-*` ones, plus `extra`."""
    kept: Headers = [
        (name, value)
        for name, value in headers or ()
        if value is not None and not name.startswith(HEADER_PREFIX)
    ]
    kept.extend((name, value.encode()) for name, value in extra.items())
    return kept
