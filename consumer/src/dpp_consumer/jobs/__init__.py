"""The jobs this worker runs; importing a job module registers it in `JOBS`."""

from __future__ import annotations

from dpp_consumer.jobs.registry import JOBS, JobRegistry, JobSpec, job


def default_jobs() -> JobRegistry:
    """Every job of the platform. Job modules import their models lazily, so this is fast."""
    # Registering is the import; the job modules import their models lazily.
    from dpp_consumer.jobs import (  # noqa: F401, PLC0415
        echo,
        embedding,
        similarity_index,
        tone,
    )

    return JOBS


__all__ = ["JOBS", "JobRegistry", "JobSpec", "default_jobs", "job"]
