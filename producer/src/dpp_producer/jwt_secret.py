"""The HS256 signing secret: from Secrets Manager (read once, cached) or a local sandbox setting."""

from __future__ import annotations

import json
import threading

from dpp_producer.settings import SANDBOX_JWT_SECRET, ProducerSettings
from dpp_shared.errors import ConfigurationError

_lock = threading.Lock()
_cache: dict[str, str] = {}


def jwt_secret(settings: ProducerSettings) -> str:
    """The secret tokens are verified with. Secrets Manager is called once per process (per
    Lambda container), never per request."""
    if settings.jwt_secret_arn:
        with _lock:
            if settings.jwt_secret_arn not in _cache:
                _cache[settings.jwt_secret_arn] = _fetch(settings.jwt_secret_arn)
            return _cache[settings.jwt_secret_arn]
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if settings.is_local:
        return SANDBOX_JWT_SECRET
    raise ConfigurationError(f"DPP_ENV={settings.env} needs JWT_SECRET_ARN (or JWT_SECRET)")


def _fetch(arn: str) -> str:
    import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 - only the cloud pays for it

    value = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    # Accept a plain string or the JSON shape the console creates ({"jwt_secret": "..."}).
    if value.lstrip().startswith("{"):
        document = json.loads(value)
        for name in ("jwt_secret", "JWT_SECRET", "secret"):
            if name in document:
                return str(document[name])
        raise ConfigurationError(f"secret {arn} is JSON without a jwt_secret field")
    return str(value)
