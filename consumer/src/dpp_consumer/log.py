"""The worker's Powertools JSON logger; each job's lines carry the event's correlation id."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger

SERVICE = "dpp-consumer"


@cache
def worker_logger() -> Logger:
    """One logger per process. Job keys are appended per thread (`thread_safe_append_keys`),
    so concurrent jobs never see each other's correlation ids."""
    return Logger(service=SERVICE, use_rfc3339=True)
