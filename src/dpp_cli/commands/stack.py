"""`dpp up`: the whole local stack."""

from __future__ import annotations


def up() -> None:
    """Start the sandbox, apply topics, run the producer and the autoscaled consumer."""
    raise NotImplementedError
