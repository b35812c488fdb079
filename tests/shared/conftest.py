"""Fixtures of the contract tests."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def unused_loopback_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
