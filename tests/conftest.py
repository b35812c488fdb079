"""Session fixtures shared by every test: the real Kafka broker, databases and unique names."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures.programs", "tests.fixtures.kafka"]
if (Path(__file__).parent / "fixtures" / "database.py").exists():
    pytest_plugins.append("tests.fixtures.database")


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A topic/group name unique to this test, so tests never share Kafka state."""
    stem = request.node.name.replace("[", "-").replace("]", "").replace("_", "-")[:40]
    return f"t-{stem}-{uuid.uuid4().hex[:8]}"
