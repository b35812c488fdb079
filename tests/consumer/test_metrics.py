"""`observe_all` (a fast unit's durations in one update per bucket) leaves a histogram exactly
as `observe` one amount at a time does."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from dpp_consumer.metrics import DURATION_BUCKETS, observe_all

EDGES = [0.0, 0.001, 0.0010001, 5e-6, 2.5, 1800.0, 1800.5, 1e9, -1.0, 0.1, float("inf")]


def _samples(registry: CollectorRegistry) -> list[tuple[str, dict[str, str], str]]:
    return [
        (sample.name, sample.labels, repr(sample.value))
        for metric in registry.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    ]


@pytest.mark.parametrize(
    "amounts",
    [[], [0.5], [0.5] * 3, EDGES, EDGES * 40 + [float("nan")], [2e-6 * i for i in range(500)]],
    ids=["none", "one", "three (observed one by one)", "bucket edges", "many, with NaN", "unit"],
)
def test_observe_all_counts_like_observe(amounts: list[float]) -> None:
    one_by_one, together = CollectorRegistry(), CollectorRegistry()
    first, second = (
        Histogram("d", "durations", ["job_type"], buckets=DURATION_BUCKETS, registry=registry)
        for registry in (one_by_one, together)
    )
    observed = first.labels("echo")
    for amount in amounts:
        observed.observe(amount)
    observe_all(second.labels("echo"), amounts)
    assert _samples(together) == _samples(one_by_one)
