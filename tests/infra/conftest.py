"""Fixtures of the infrastructure tests."""

from __future__ import annotations

import pytest

from tests.infra import toolchain


@pytest.fixture(scope="session")
def tool_env() -> dict[str, str]:
    """Environment for the checkers: the tool cache first on PATH, no user CLI config."""
    return toolchain.tool_env()
