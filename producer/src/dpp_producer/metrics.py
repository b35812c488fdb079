"""Prometheus metrics of one app: requests, latency, accepted events, produce errors, queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class EventMetricsSink(Protocol):
    """Somewhere else produce outcomes are reported (CloudWatch EMF on Lambda)."""

    def event_accepted(self, event_type: str, ack_latency_s: float) -> None: ...

    def produce_error(self, reason: str) -> None: ...


class ProducerMetrics:
    """A registry per app (not the global one), so several apps can live in one test process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "dpp_producer_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dpp_producer_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.accepted = Counter(
            "dpp_producer_events_accepted",
            "Events acknowledged by the broker",
            ["event_type"],
            registry=self.registry,
        )
        self.ack_latency = Histogram(
            "dpp_producer_ack_latency_seconds",
            "Time from produce to the broker's acknowledgement",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.produce_errors = Counter(
            "dpp_producer_produce_errors",
            "Records not acknowledged, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "dpp_producer_queue_depth",
            "Records in the local produce queue awaiting acknowledgement",
            registry=self.registry,
        )
        self.sinks: list[EventMetricsSink] = []

    def watch_queue(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(depth)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def event_accepted(self, event_type: str, ack_latency_s: float) -> None:
        self.events_accepted(event_type, 1, ack_latency_s)

    def events_accepted(self, event_type: str, count: int, ack_latency_s: float) -> None:
        """`count` events of one type acknowledged together (a batch): one counter update; each
        event is observed with the time until the batch's last acknowledgement."""
        self.accepted.labels(event_type).inc(count)
        _observe_many(self.ack_latency, ack_latency_s, count)
        for sink in self.sinks:
            for _ in range(count):
                sink.event_accepted(event_type, ack_latency_s)

    def produce_error(self, reason: str) -> None:
        self.produce_errors.labels(reason).inc()
        for sink in self.sinks:
            sink.produce_error(reason)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _observe_many(histogram: Histogram, value: float, count: int) -> None:
    """`count` observations of one value: what `count` calls of `observe` record, in one
    update of the sum and the value's bucket (at 500 events a request the loop of `observe`
    calls was 14 % of a batch's time). Falls back to the loop if the client's internals
    (`_sum`, `_upper_bounds`, `_buckets`) ever change."""
    try:
        bounds = histogram._upper_bounds
        buckets = histogram._buckets
        total = histogram._sum
    except AttributeError:
        for _ in range(count):
            histogram.observe(value)
        return
    total.inc(value * count)
    for index, bound in enumerate(bounds):
        if value <= bound:
            buckets[index].inc(count)
            return
