"""Who may read the ops API: anyone on loopback (auth none), or a bearer token with ops:read.

The token itself is verified by a :data:`TokenVerifier` the composition root passes in (the `dpp`
CLI hands over the producer's JWT verification), so the page never imports the producer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dpp_ops.errors import AccessDeniedError
from dpp_ops.page.settings import OPS_SCOPE, OpsSettings


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a verified token names, and what it may do."""

    subject: str
    scopes: frozenset[str]


# Verifies an Authorization header; raises AccessDeniedError(401, why) when it is not valid.
TokenVerifier = Callable[[str | None], Caller]


def check_access(
    settings: OpsSettings, authorization: str | None, verify: TokenVerifier | None
) -> None:
    """Raise :class:`AccessDeniedError` unless the request may read."""
    if settings.auth == "none":
        return
    if verify is None:
        raise AccessDeniedError(401, "the ops service has no token verifier configured")
    caller = verify(authorization)
    if OPS_SCOPE not in caller.scopes:
        raise AccessDeniedError(403, f"token for {caller.subject!r} lacks scope {OPS_SCOPE!r}")
