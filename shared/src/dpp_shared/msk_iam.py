"""SASL/OAUTHBEARER tokens for Amazon MSK IAM auth, fed to librdkafka through `oauth_cb`."""

from __future__ import annotations

from collections.abc import Callable

from dpp_shared.errors import ConfigurationError

OAuthCallback = Callable[[str | None], tuple[str, float]]


def make_oauth_callback(region: str) -> OAuthCallback:
    """Return an `oauth_cb` that signs a fresh MSK IAM token for `region`.

    The token is a presigned `kafka-cluster:Connect` URL (SigV4, 15 minutes), signed locally
    with the default AWS credential chain (the Lambda's or task's role): no network call.
    confluent-kafka calls it when the client is created and again at 80% of the token's
    lifetime, so the token is refreshed before it expires; the client must be polled (or
    flushed) for the refresh to run.
    """

    def oauth_cb(_oauthbearer_config: str | None) -> tuple[str, float]:
        # Imported here: only MSK deployments pay for botocore.
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider  # noqa: PLC0415

        try:
            token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        except Exception as error:  # botocore raises many unrelated types; all mean "no token"
            raise ConfigurationError(
                f"cannot sign an MSK IAM token for region {region!r}: {error}. "
                "Check AWS credentials (role, AWS_ACCESS_KEY_ID...) and AWS_REGION."
            ) from error
        return token, expiry_ms / 1000.0

    return oauth_cb
