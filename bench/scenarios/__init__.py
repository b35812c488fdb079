"""The benchmark scenarios, by name, in the order a full run measures them."""

from __future__ import annotations

from collections.abc import Callable

from bench.context import BenchContext
from bench.results import ScenarioResult
from bench.scenarios import (
    autoscale,
    cold_start,
    consume,
    end_to_end,
    ingest_batch,
    ingest_single,
    ml_jobs,
)

Scenario = Callable[[BenchContext], ScenarioResult]

SCENARIOS: dict[str, Scenario] = {
    "ingest-batch": ingest_batch.run,
    "ingest-single": ingest_single.run,
    "consume": consume.run,
    "end-to-end": end_to_end.run,
    "autoscale": autoscale.run,
    "cold-start": cold_start.run,
    "ml-jobs": ml_jobs.run,
}
