"""Errors of the sandbox; each says what is wrong and how to fix it."""

from __future__ import annotations

from dpp_shared.errors import DppError


class SandboxError(DppError):
    """The sandbox cannot be set up, started or stopped."""


class MissingToolError(SandboxError):
    """Java or Maven is not installed; the message names the tool and the install command."""
