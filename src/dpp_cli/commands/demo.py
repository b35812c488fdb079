"""`dpp demo`: post sample events and show them flow through."""

from __future__ import annotations


def demo() -> None:
    """Post sample events to the producer and follow them to completed jobs."""
    raise NotImplementedError
