"""The jobs this worker runs; importing a job module registers it in `JOBS`."""

from __future__ import annotations

from dpp_consumer.jobs.registry import JOBS, JobRegistry, JobSpec, job


def default_jobs() -> JobRegistry:
    """Every job of the platform. Job modules import their models lazily, so this is fast."""
    from dpp_consumer.jobs import echo  # noqa: F401, PLC0415 - registering is the import

    return JOBS


__all__ = ["JOBS", "JobRegistry", "JobSpec", "default_jobs", "job"]
