"""Who may use the ops API: anyone on loopback (auth none), or a bearer token with ops:read to
read and ops:write to act (replay a dead letter, pause or resume a job type).

The token itself is verified by a :data:`TokenVerifier` the composition root passes in (the `dpp`
CLI hands over the producer's JWT verification), so the page never imports the producer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dpp_ops.errors import AccessDeniedError
from dpp_ops.page.settings import OPS_SCOPE, OPS_WRITE_SCOPE, OpsSettings

LOCAL_CALLER_SUBJECT = "local"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a verified token names, and what it may do."""

    subject: str
    scopes: frozenset[str]


# Verifies an Authorization header; raises AccessDeniedError(401, why) when it is not valid.
TokenVerifier = Callable[[str | None], Caller]


def identify(
    settings: OpsSettings, authorization: str | None, verify: TokenVerifier | None
) -> Caller:
    """Who calls. Without auth the service listens on loopback only, so the caller is whoever
    may run `dpp dlq replay` on this machine anyway: both scopes."""
    if settings.auth == "none":
        return Caller(LOCAL_CALLER_SUBJECT, frozenset({OPS_SCOPE, OPS_WRITE_SCOPE}))
    if verify is None:
        raise AccessDeniedError(401, "the ops service has no token verifier configured")
    return verify(authorization)


def check_access(
    settings: OpsSettings,
    authorization: str | None,
    verify: TokenVerifier | None,
    *,
    write: bool = False,
) -> Caller:
    """The caller, or :class:`AccessDeniedError` unless it may read (``write``: may act).
    ops:write includes reading."""
    caller = identify(settings, authorization, verify)
    wanted = {OPS_WRITE_SCOPE} if write else {OPS_SCOPE, OPS_WRITE_SCOPE}
    if not wanted & caller.scopes:
        scope = OPS_WRITE_SCOPE if write else OPS_SCOPE
        raise AccessDeniedError(403, f"token for {caller.subject!r} lacks scope {scope!r}")
    return caller
