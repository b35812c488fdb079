"""Who may read the ops API: anyone on loopback (auth none), or a producer JWT with ops:read."""

from __future__ import annotations

from dpp_cli.ops.settings import OPS_SCOPE, OpsSettings


class AccessDeniedError(Exception):
    """The request may not read the ops API; ``status`` is 401 or 403."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def check_access(settings: OpsSettings, authorization: str | None) -> None:
    """Raise :class:`AccessDeniedError` unless the request may read. With ``auth=jwt`` the token is
    verified exactly as the producer verifies it (same secret, audience and claims)."""
    if settings.auth == "none":
        return
    from dpp_producer.auth import authenticate  # noqa: PLC0415
    from dpp_producer.errors import AuthenticationError  # noqa: PLC0415
    from dpp_producer.jwt_secret import jwt_secret  # noqa: PLC0415
    from dpp_producer.settings import producer_settings  # noqa: PLC0415

    producer = producer_settings()
    try:
        principal = authenticate(authorization, jwt_secret(producer), producer.jwt_audience)
    except AuthenticationError as error:
        raise AccessDeniedError(401, error.detail) from None
    if OPS_SCOPE not in principal.scopes:
        raise AccessDeniedError(403, f"token for {principal.subject!r} lacks scope {OPS_SCOPE!r}")
