"""DATABASE_SECRET_ARN (Secrets Manager in moto's server) into the producer's and worker's URL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from dpp_consumer.service import build_worker
from dpp_consumer.settings import WorkerSettings
from dpp_producer.runtime import ProducerRuntime
from dpp_producer.settings import ProducerSettings
from dpp_shared.errors import ConfigurationError
from dpp_shared.settings import AwsSettings, KafkaSettings, TopicSettings, database_settings
from dpp_store import JobStore
from dpp_store.database_secret import forget_cached_secrets, resolve_database_url

from .conftest import REGION, AwsStandIn


@pytest.fixture
def secrets_manager(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsStandIn]:
    """The process talks to moto's server as a deployed service would (AWS_* environment)."""
    stand_in = AwsStandIn(moto_endpoint, "", "", "")
    for name, value in stand_in.environment().items():
        monkeypatch.setenv(name, value)
    forget_cached_secrets()
    yield stand_in
    forget_cached_secrets()


def _secret(aws: AwsStandIn, document: dict[str, object]) -> str:
    client = aws.client("secretsmanager")
    name = f"rds!cluster-{uuid.uuid4().hex[:8]}"
    return str(client.create_secret(Name=name, SecretString=json.dumps(document))["ARN"])


def test_without_a_secret_the_url_is_used_as_given() -> None:
    assert resolve_database_url("sqlite:///x.db", None) == "sqlite:///x.db"


def test_an_rds_managed_secret_fills_user_and_password_of_terraforms_url(
    secrets_manager: AwsStandIn,
) -> None:
    """Aurora's managed secret has only username/password; Terraform's database_url names the
    endpoint, the database and sslmode."""
    arn = _secret(secrets_manager, {"username": "dpp_admin", "password": "p@ss/w:rd"})
    url = resolve_database_url(
        "postgresql://dpp_admin@cluster.example:5432/dpp?sslmode=require", arn
    )
    assert url == (
        "postgresql+psycopg://dpp_admin:p%40ss%2Fw%3Ard@cluster.example:5432/dpp?sslmode=require"
    )


def test_a_full_secret_needs_no_database_url(secrets_manager: AwsStandIn) -> None:
    arn = _secret(
        secrets_manager,
        {"username": "u", "password": "p", "host": "db.local", "port": 6543, "dbname": "jobs"},
    )
    assert resolve_database_url("sqlite:///.dpp/jobs.db", arn) == (
        "postgresql+psycopg://u:p@db.local:6543/jobs"
    )


@pytest.mark.parametrize(
    ("document", "url", "message"),
    [
        ({"username": "u"}, "postgresql://h/db", "no username and password"),
        ({"username": "u", "password": "p"}, "sqlite:///x.db", "names no host"),
        ({"username": "u", "password": "p", "host": "h"}, "sqlite:///x.db", "no database"),
    ],
)
def test_an_incomplete_secret_is_a_configuration_error(
    secrets_manager: AwsStandIn, document: dict[str, object], url: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve_database_url(url, _secret(secrets_manager, document))


def _local_secret(aws: AwsStandIn, postgres_url: str) -> str:
    # The fixture's server trusts loopback connections, so any password opens it; the point is
    # that the user and password in the URL come from the secret.
    return _secret(aws, {"username": urlsplit(postgres_url).username, "password": "from-secret"})


def test_the_producer_stores_idempotency_answers_in_the_secrets_database(
    secrets_manager: AwsStandIn, lambda_database: str, postgres_url: str
) -> None:
    arn = _local_secret(secrets_manager, postgres_url)
    settings = ProducerSettings.model_validate(
        {"DPP_ENV": "test", "DATABASE_URL": lambda_database, "DATABASE_SECRET_ARN": arn}
    )
    runtime = ProducerRuntime.build(
        settings, KafkaSettings(), AwsSettings(aws_region=REGION), TopicSettings()
    )
    store = runtime.job_store()
    try:
        assert store.engine.url.password == "from-secret"
        with store.engine.connect() as connection:
            assert connection.execute(text("select 1")).scalar_one() == 1
    finally:
        store.close()


def test_the_worker_opens_its_job_store_with_the_secret(
    secrets_manager: AwsStandIn,
    lambda_database: str,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arn = _local_secret(secrets_manager, postgres_url)
    monkeypatch.setenv("DATABASE_URL", lambda_database)
    monkeypatch.setenv("DATABASE_SECRET_ARN", arn)
    database_settings.cache_clear()
    try:
        settings = WorkerSettings()
        assert settings.database_secret_arn == arn
        store = build_worker(settings).store
        assert isinstance(store, JobStore)
        assert store.engine.url.password == "from-secret"
        store.migrate()
        store.close()
    finally:
        database_settings.cache_clear()
