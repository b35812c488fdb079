"""Outcome records: the one place that builds retry copies, dead letters and lifecycle events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dpp_consumer.lifecycle import completed_record, failed_record
from dpp_consumer.records import ConsumedRecord
from dpp_consumer.retry import MAX_ERROR_CHARS, Delivery, Failure, RetryPolicy, Route
from dpp_shared.codec import KafkaRecord
from dpp_shared.envelope import EventEnvelope
from dpp_shared.topics import TopicNamespace


class OutcomeRecords:
    """Builds the records a finished attempt publishes, on one worker's topic namespace."""

    def __init__(self, retry_policy: RetryPolicy, namespace: TopicNamespace) -> None:
        self.retry = retry_policy
        self.namespace = namespace

    def forward(
        self,
        message: ConsumedRecord,
        delivery: Delivery,
        failure: Failure,
        *,
        job_topic: str | None = None,
    ) -> tuple[Route, KafkaRecord]:
        """The failed record's copy for its next retry tier, or its dead letter (always a dead
        letter without ``job_topic``: a record that is no runnable job cannot be retried)."""
        route = self.retry.route(
            job_topic=job_topic, delivery=delivery, failure=failure, headers=message.headers
        )
        copy = KafkaRecord(route.topic, message.key or b"", message.value or b"", route.headers)
        return route, copy

    def completed(
        self,
        *,
        job_id: str,
        job_type: str,
        event_type: str,
        attempts: int,
        duration_ms: float,
        completed_at: datetime,
        result: dict[str, Any],
        started_by: EventEnvelope,
    ) -> KafkaRecord:
        """The `job.completed.v1` announcement."""
        return completed_record(
            job_id=job_id,
            job_type=job_type,
            event_type=event_type,
            attempts=attempts,
            duration_ms=duration_ms,
            completed_at=completed_at,
            result=result,
            started_by=started_by,
            namespace=self.namespace,
        )

    def failed(
        self,
        *,
        job_id: str,
        job_type: str,
        event_type: str,
        attempts: int,
        error_type: str,
        error: str,
        failed_at: datetime,
        started_by: EventEnvelope | None,
    ) -> KafkaRecord:
        """The `job.failed.v1` announcement (error text bounded like the dead letter's)."""
        return failed_record(
            job_id=job_id,
            job_type=job_type,
            event_type=event_type,
            attempts=attempts,
            error_type=error_type,
            error=error[:MAX_ERROR_CHARS],
            failed_at=failed_at,
            started_by=started_by,
            namespace=self.namespace,
        )
