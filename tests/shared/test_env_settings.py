"""`EnvSettings` reads settings as pydantic-settings does: values, errors and the fields set."""

from __future__ import annotations

import os
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings

from dpp_producer.settings import ProducerSettings
from dpp_shared.env_settings import EnvSettings
from dpp_shared.settings import AwsSettings, DatabaseSettings, KafkaSettings, TopicSettings

STRONG = "s" * 40

# (class, environment, keyword arguments)
CORPUS: list[tuple[type[EnvSettings], dict[str, str], dict[str, Any]]] = [
    (ProducerSettings, {}, {}),
    (ProducerSettings, {"DPP_ENV": "test", "JWT_SECRET": "x", "DPP_PRODUCER_MAX_BATCH": "7"}, {}),
    (ProducerSettings, {"dpp_env": "test", "dpp_producer_ack_timeout_s": "2.5"}, {}),
    (ProducerSettings, {"Dpp_Env": "prod", "DPP_ENV": "test"}, {}),
    (ProducerSettings, {"DPP_ENV": "test", "Dpp_Env": "prod"}, {}),
    # populate_by_name: the field's own name is read too, after its alias
    (ProducerSettings, {"ENV": "test", "MAX_BATCH": "9"}, {}),
    (ProducerSettings, {"DPP_PRODUCER_MAX_BATCH": "7", "MAX_BATCH": "9"}, {}),
    (ProducerSettings, {"DPP_ENV": "prod"}, {}),
    (ProducerSettings, {"DPP_ENV": "prod", "JWT_SECRET": "changeme"}, {}),
    (ProducerSettings, {"DPP_ENV": "prod", "JWT_SECRET": STRONG}, {}),
    (ProducerSettings, {"DPP_ENV": "prod", "JWT_SECRET": STRONG, "DATABASE_URL": "sqlite://"}, {}),
    (ProducerSettings, {"DPP_ENV": "prod", "JWT_JWKS_URL": "https://idp/jwks"}, {}),
    (ProducerSettings, {"DPP_ENV": "nope"}, {}),
    (ProducerSettings, {"DPP_PRODUCER_MAX_BATCH": "0", "DPP_PRODUCER_ACK_TIMEOUT_S": "x"}, {}),
    (ProducerSettings, {"JWT_AUDIENCE": "", "DPP_PRODUCER_MAX_BATCH": ""}, {}),
    (ProducerSettings, {"DPP_TRACING": "otlp", "DPP_RATE_LIMIT_BACKEND": "database"}, {}),
    (ProducerSettings, {"DPP_EVENT_ID_SECRET": "k" * 32, "DPP_RATE_LIMITS": "*=5/s"}, {}),
    (ProducerSettings, {"DPP_ENV": "prod"}, {"jwt_secret": STRONG, "database_url": "sqlite://"}),
    (ProducerSettings, {"JWT_SECRET": "from-env"}, {"JWT_SECRET": "from-arguments"}),
    (ProducerSettings, {"JWT_SECRET": "from-env"}, {"jwt_secret": "from-arguments"}),
    (ProducerSettings, {}, {"Dpp_Env": "test", "max_batch": 3}),
    (ProducerSettings, {}, {"env": "test", "DPP_ENV": "prod"}),
    (ProducerSettings, {}, {"not_a_setting": 1}),
    (ProducerSettings, {}, {"max_batch": 0}),
    (KafkaSettings, {}, {}),
    (KafkaSettings, {"KAFKA_BOOTSTRAP_SERVERS": "b:9092", "kafka_linger_ms": "5"}, {}),
    # no populate_by_name and no alias: the prefixed name only
    (KafkaSettings, {"BOOTSTRAP_SERVERS": "ignored:1", "KAFKA_SECURITY_MODE": "msk-iam"}, {}),
    (KafkaSettings, {"KAFKA_COMPRESSION_TYPE": "bogus", "KAFKA_DELIVERY_TIMEOUT_MS": "5"}, {}),
    (KafkaSettings, {"KAFKA_SSL_CA_LOCATION": ""}, {"bootstrap_servers": "kw:1"}),
    (KafkaSettings, {"KAFKA_BOOTSTRAP_SERVERS": "env:1"}, {"BOOTSTRAP_SERVERS": "kw:2"}),
    (KafkaSettings, {}, {"kafka_bootstrap_servers": "extra:1"}),
    (AwsSettings, {"AWS_REGION": "eu-west-1"}, {}),
    (AwsSettings, {"aws_region": "eu-west-2"}, {"aws_region": "eu-west-3"}),
    (TopicSettings, {"DPP_TOPIC_PREFIX": "t1-", "TOPIC_PREFIX": "no-"}, {}),
    (DatabaseSettings, {"DATABASE_URL": "postgresql+psycopg://h/db"}, {}),
]


def _reference(settings: type[EnvSettings]) -> type[BaseModel]:
    """The same class with pydantic-settings reading it (EnvSettings then passes values on)."""

    def passed_on(cls: type[EnvSettings], values: dict[str, Any]) -> dict[str, Any]:
        return values

    namespace = {"__module__": settings.__module__, "_settings_values": classmethod(passed_on)}
    return type(settings.__name__, (BaseSettings, settings), namespace)


def _outcome(settings: type[BaseModel], arguments: dict[str, Any]) -> tuple[str, Any]:
    try:
        made = settings(**arguments)
    except ValidationError as error:
        return "refused", error.errors(include_url=False, include_context=False)
    values = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in made.model_dump().items()
    }
    return "read", (values, made.model_fields_set)


@pytest.mark.parametrize(
    ("settings", "environment", "arguments"),
    CORPUS,
    ids=[f"{case[0].__name__}-{index}" for index, case in enumerate(CORPUS)],
)
def test_env_settings_read_as_pydantic_settings_does(
    monkeypatch: pytest.MonkeyPatch,
    settings: type[EnvSettings],
    environment: dict[str, str],
    arguments: dict[str, Any],
) -> None:
    monkeypatch.setattr(os, "environ", dict(environment))
    expected = _outcome(_reference(settings), arguments)
    assert _outcome(settings, arguments) == expected


def test_settings_read_from_the_environment_are_not_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "environ", {"KAFKA_BOOTSTRAP_SERVERS": "b:1", "dpp_env": "test"})
    assert KafkaSettings().bootstrap_servers == "b:1"
    assert ProducerSettings().env == "test"
    assert "env" in ProducerSettings().model_fields_set


def test_a_field_pydantic_settings_would_decode_as_json_is_refused() -> None:
    with pytest.raises(TypeError, match="only scalar fields"):

        class Listed(EnvSettings):
            names: list[str] = []
