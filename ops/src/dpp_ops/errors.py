"""Errors of the operators' tools, rooted in the project's DppError and carrying their context."""

from __future__ import annotations

from dpp_shared.errors import DppError


class OpsError(DppError):
    """Root of every error raised by :mod:`dpp_ops`."""


class LagError(OpsError):
    """Root of the lag engine's errors."""


class LagReadError(LagError):
    """Offsets or group metadata could not be read from the broker."""

    def __init__(self, group: str, detail: str) -> None:
        super().__init__(f"cannot read lag of group {group!r}: {detail}")
        self.group = group
        self.detail = detail


class AccessDeniedError(OpsError):
    """The request may not use the ops API; ``status`` is 401 or 403."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class DeadLetterNotFoundError(OpsError):
    """No dead letter has the requested id."""

    def __init__(self, dead_letter_id: str) -> None:
        super().__init__(f"no dead letter with id {dead_letter_id!r}")
        self.dead_letter_id = dead_letter_id
