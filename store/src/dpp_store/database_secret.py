"""Database credentials from Secrets Manager: `DATABASE_SECRET_ARN` turned into a database URL."""

from __future__ import annotations

import json
import os
import threading
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from dpp_shared.errors import ConfigurationError

_POSTGRES_DRIVER = "postgresql+psycopg"
_DEFAULT_PORT = 5432
_lock = threading.Lock()
_cache: dict[str, dict[str, Any]] = {}


def resolve_database_url(database_url: str, secret_arn: str | None) -> str:
    """`database_url` as given when no secret is named; else a PostgreSQL URL whose user and
    password (and host, port and database when the secret has them) come from the secret.

    Aurora's RDS-managed master secret holds only `username` and `password`, so the endpoint and
    database name then come from `database_url` (e.g. `postgresql://cluster-endpoint:5432/dpp`,
    without credentials); a secret of the full RDS shape (`host`, `port`, `dbname`) needs no URL.
    Secrets Manager is read once per process (per Lambda container), never per request."""
    if not secret_arn:
        return database_url
    secret = _secret(secret_arn)
    base = urlsplit(database_url)
    from_url = base.scheme.startswith("postgres")
    user, password = secret.get("username"), secret.get("password")
    if not isinstance(user, str) or not isinstance(password, str):
        raise ConfigurationError(f"database secret {secret_arn} has no username and password")
    host = secret.get("host") or (base.hostname if from_url else None)
    if not host:
        raise ConfigurationError(
            f"database secret {secret_arn} names no host; set DATABASE_URL to "
            "postgresql://<endpoint>:5432/<database> beside DATABASE_SECRET_ARN"
        )
    port = secret.get("port") or (base.port if from_url else None) or _DEFAULT_PORT
    dbname = secret.get("dbname") or (unquote(base.path.lstrip("/")) if from_url else "")
    if not dbname:
        raise ConfigurationError(f"database secret {secret_arn} and DATABASE_URL name no database")
    query = f"?{base.query}" if from_url and base.query else ""
    return (
        f"{_POSTGRES_DRIVER}://{quote(user, safe='')}:{quote(password, safe='')}"
        f"@{host}:{int(port)}/{quote(str(dbname), safe='')}{query}"
    )


def _secret(arn: str) -> dict[str, Any]:
    with _lock:
        if arn not in _cache:
            _cache[arn] = _fetch(arn)
        return _cache[arn]


def _fetch(arn: str) -> dict[str, Any]:
    import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 - only deployed services pay for it

    # ECS gives AWS_REGION (Terraform sets it for the worker); botocore itself reads only
    # AWS_DEFAULT_REGION.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    client = boto3.client("secretsmanager", region_name=region)
    value = client.get_secret_value(SecretId=arn)["SecretString"]
    try:
        document = json.loads(value)
    except ValueError as error:
        raise ConfigurationError(f"database secret {arn} is not JSON") from error
    if not isinstance(document, dict):
        raise ConfigurationError(f"database secret {arn} is not a JSON object")
    return document


def forget_cached_secrets() -> None:
    """Drop the cached secrets (tests; a rotated password needs a new process otherwise)."""
    with _lock:
        _cache.clear()
