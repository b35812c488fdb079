"""Fixtures of the ML tests: the real MiniLM encoder, loaded once for the whole session."""

from __future__ import annotations

import pytest

from dpp_consumer.ml.embedding import shared_encoder
from dpp_consumer.ml.minilm import MiniLMEncoder


@pytest.fixture(scope="session")
def encoder() -> MiniLMEncoder:
    """The process-wide encoder, so every ML test shares one model load."""
    return shared_encoder()
