"""Percentiles and rates of measured samples."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_samples: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted samples (`fraction` in 0..1)."""
    if not sorted_samples:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_samples)))
    return sorted_samples[rank - 1]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def latency_summary(samples: Sequence[float]) -> dict[str, float | None]:
    """p50/p99/max in milliseconds of latencies given in seconds."""
    ordered = sorted(samples)
    return {
        "p50_ms": ms(percentile(ordered, 0.50)),
        "p99_ms": ms(percentile(ordered, 0.99)),
        "max_ms": ms(ordered[-1] if ordered else None),
    }
