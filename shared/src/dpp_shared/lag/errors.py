"""Errors of the lag engine, rooted in one base error that carries context."""

from __future__ import annotations


class LagError(Exception):
    """Base of every error raised by :mod:`dpp_shared.lag`."""


class LagReadError(LagError):
    """Offsets or group metadata could not be read from the broker."""

    def __init__(self, group: str, detail: str) -> None:
        super().__init__(f"cannot read lag of group {group!r}: {detail}")
        self.group = group
        self.detail = detail
