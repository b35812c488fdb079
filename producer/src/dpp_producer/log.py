"""The producer's structured logger: Powertools Logger, JSON lines with the correlation id."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

SERVICE_NAME = "dpp-producer"


@cache
def logger() -> Logger:
    """One logger per process, created on first use (its import is not free on a cold start)."""
    from aws_lambda_powertools import Logger  # noqa: PLC0415 - lazy for cold start

    return Logger(service=SERVICE_NAME)
