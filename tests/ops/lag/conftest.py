"""Fixtures for lag tests: a Kafka scratch space per test that deletes what it made."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ops.lag.scratch import KafkaScratch


@pytest.fixture
def kafka(kafka_bootstrap: str, unique_name: str) -> Iterator[KafkaScratch]:
    """Scratch Kafka space for one test; topics and groups are deleted afterwards."""
    scratch = KafkaScratch(kafka_bootstrap, unique_name)
    try:
        yield scratch
    finally:
        scratch.cleanup()
