"""Prometheus metrics per job type: processed, failed, retried, dead-lettered, duration, running;
and `observe_all`, a unit's durations counted into a histogram with one update per bucket."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

# Buckets span the echo job (microseconds) to an index rebuild (many minutes).
DURATION_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 60, 180, 600, 1800)


@dataclass(frozen=True)
class JobMetrics:
    """The labelled children of one job type, looked up once (labels() costs a lock and a
    dict lookup per call, which adds up at thousands of jobs a second)."""

    processed: Any
    failed: Any
    retried: Any
    dead_lettered: Any
    skipped: Any
    duration: Any
    in_flight: Any


class WorkerMetrics:
    """The worker's metrics in their own registry, so several workers can share a process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = ["job_type"]
        self.processed = Counter(
            "dpp_jobs_processed", "Jobs that succeeded", labels, registry=self.registry
        )
        self.failed = Counter(
            "dpp_jobs_failed", "Job attempts that failed", labels, registry=self.registry
        )
        self.retried = Counter(
            "dpp_jobs_retried", "Attempts sent to a retry tier", labels, registry=self.registry
        )
        self.dead_lettered = Counter(
            "dpp_jobs_dead_lettered", "Records sent to the dead-letter topic", labels,
            registry=self.registry,
        )  # fmt: skip
        self.skipped = Counter(
            "dpp_jobs_skipped_duplicate", "Redelivered events whose job had already finished",
            labels, registry=self.registry,
        )  # fmt: skip
        self.duration = Histogram(
            "dpp_job_duration_seconds", "Time a job attempt ran", labels,
            buckets=DURATION_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge(
            "dpp_jobs_in_flight", "Jobs running now", labels, registry=self.registry
        )
        self.rebalances = Counter(
            "dpp_worker_rebalances", "Partition assignment changes", ["kind"],
            registry=self.registry,
        )  # fmt: skip

        self._jobs: dict[str, JobMetrics] = {}
        self._lock = threading.Lock()

    def job(self, job_type: str) -> JobMetrics:
        found = self._jobs.get(job_type)
        if found is None:
            with self._lock:
                found = self._jobs.get(job_type)
                if found is None:
                    found = JobMetrics(
                        *(
                            metric.labels(job_type)
                            for metric in (
                                self.processed,
                                self.failed,
                                self.retried,
                                self.dead_lettered,
                                self.skipped,
                                self.duration,
                                self.in_flight,
                            )
                        )
                    )
                    self._jobs[job_type] = found
        return found

    def serve(self, port: int, host: str = "0.0.0.0") -> int:  # noqa: S104 - scraped from outside
        """Expose /metrics on `host:port`; returns the port bound."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_port)


def observe_all(histogram: Histogram, amounts: Sequence[float]) -> None:
    """`histogram.observe(amount)` for each amount, with one locked update per bucket and one for
    the sum rather than two per amount (a fast unit's 500 durations). Reads the histogram's
    bounds and values as `Histogram.observe` does (prometheus_client's internals: the test
    compares the result with `observe` one by one)."""
    if len(amounts) < 4:
        for amount in amounts:
            histogram.observe(amount)
        return
    bounds: list[float] = histogram._upper_bounds  # the last one is +Inf
    counts = [0] * len(bounds)
    for amount in amounts:
        # `observe` counts an amount in the first bucket whose bound is >= it (NaN: none).
        index = bisect_left(bounds, amount)
        if index < len(bounds) and amount <= bounds[index]:
            counts[index] += 1
    histogram._sum.inc(sum(amounts))
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)
