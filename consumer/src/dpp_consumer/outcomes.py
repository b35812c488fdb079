"""Outcome records: the one place that builds retry copies and dead letters of failed records.

Lifecycle announcements (`job.completed.v1`, `job.failed.v1`) are built by :mod:`lifecycle`."""

from __future__ import annotations

from dpp_consumer.records import ConsumedRecord
from dpp_consumer.retry import Delivery, Failure, RetryPolicy, Route
from dpp_shared.codec import KafkaRecord
from dpp_shared.topics import TopicNamespace
from dpp_shared.tracing import TraceHeaders, with_trace


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
        trace: TraceHeaders | None = None,
    ) -> tuple[Route, KafkaRecord]:
        """The failed record's copy for its next retry tier, or its dead letter (always a dead
        letter without ``job_topic``: a record that is no runnable job cannot be retried).
        With ``trace`` (the worker span's context) the copy carries it on instead of the
        record's own, so the next attempt's span is the child of this one."""
        route = self.retry.route(
            job_topic=job_topic, delivery=delivery, failure=failure, headers=message.headers
        )
        headers = route.headers if trace is None else with_trace(route.headers, trace)
        copy = KafkaRecord(route.topic, message.key or b"", message.value or b"", headers)
        return route, copy
