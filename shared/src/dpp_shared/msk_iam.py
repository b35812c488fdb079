"""SASL/OAUTHBEARER tokens for Amazon MSK IAM auth, fed to librdkafka through `oauth_cb`."""

from __future__ import annotations

from collections.abc import Callable

OAuthCallback = Callable[[str | None], tuple[str, float]]


def make_oauth_callback(region: str) -> OAuthCallback:
    """Return an `oauth_cb` that signs a fresh MSK IAM token for `region`.

    librdkafka calls it at start-up and again at 80% of the token's lifetime, so the token is
    refreshed before it expires; the client must be polled for the callback to run.
    """

    def oauth_cb(_oauthbearer_config: str | None) -> tuple[str, float]:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider  # noqa: PLC0415 - MSK-only path

        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return token, expiry_ms / 1000.0

    return oauth_cb
