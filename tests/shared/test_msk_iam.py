"""MSK IAM auth for real: a signed token's contents, and librdkafka taking the callback."""

from __future__ import annotations

import base64
import logging
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from confluent_kafka import Producer

from dpp_shared.errors import ConfigurationError
from dpp_shared.kafka_config import admin_config, consumer_config, producer_config
from dpp_shared.msk_iam import make_oauth_callback
from dpp_shared.settings import AwsSettings, KafkaSettings

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key: signs, authorises nothing
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "eu-west-1"


@pytest.fixture
def static_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """Static credentials only: no profile, no config files, no instance metadata lookups."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _decode_token(token: str) -> str:
    assert "=" not in token and "+" not in token and "/" not in token  # base64url, unpadded
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()


@pytest.mark.usefixtures("static_credentials")
def test_token_is_a_presigned_kafka_cluster_connect_url() -> None:
    before = time.time()
    token, expiry_s = make_oauth_callback(REGION)(None)
    url = urlsplit(_decode_token(token))
    query = {name: values[0] for name, values in parse_qs(url.query).items()}

    assert url.scheme == "https"
    assert url.hostname == f"kafka.{REGION}.amazonaws.com"
    assert query["Action"] == "kafka-cluster:Connect"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    key_id, date, region, service, terminator = query["X-Amz-Credential"].split("/")
    assert (key_id, region, service, terminator) == (
        ACCESS_KEY,
        REGION,
        "kafka-cluster",
        "aws4_request",
    )
    assert date == datetime.now(UTC).strftime("%Y%m%d") or date < datetime.now(UTC).strftime(
        "%Y%m%d"
    )
    assert query["X-Amz-SignedHeaders"] == "host"
    assert len(query["X-Amz-Signature"]) == 64
    int(query["X-Amz-Signature"], 16)
    expires = int(query["X-Amz-Expires"])
    assert 0 < expires <= 900
    # The callback returns seconds since the epoch, which is what confluent-kafka expects.
    assert before + expires - 60 <= expiry_s <= time.time() + expires + 1


@pytest.mark.usefixtures("static_credentials")
def test_region_comes_from_settings_into_the_callback() -> None:
    config = producer_config(
        KafkaSettings(security_mode="msk-iam"), AwsSettings(aws_region="ap-southeast-2")
    )
    token, _ = config["oauth_cb"](None)
    assert "%2Fap-southeast-2%2Fkafka-cluster%2F" in _decode_token(token)


def test_missing_credentials_raise_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
    with pytest.raises(ConfigurationError, match="cannot sign an MSK IAM token for region"):
        make_oauth_callback(REGION)(None)


def test_msk_iam_config_is_sasl_ssl_oauthbearer() -> None:
    kafka = KafkaSettings(
        security_mode="msk-iam", bootstrap_servers="b-1.msk:9098", ssl_ca_location="probe"
    )
    aws = AwsSettings(aws_region=REGION)
    for config in (
        producer_config(kafka, aws),
        consumer_config(kafka, aws, "g"),
        admin_config(kafka, aws),
    ):
        assert config["security.protocol"] == "SASL_SSL"
        assert config["sasl.mechanisms"] == "OAUTHBEARER"
        assert callable(config["oauth_cb"])
        assert config["ssl.ca.location"] == "probe"
        assert config["bootstrap.servers"] == "b-1.msk:9098"


def test_plaintext_config_has_no_auth_and_durable_defaults() -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:19092", delivery_timeout_ms=12_000)
    aws = AwsSettings()
    producer = producer_config(kafka, aws)
    assert "security.protocol" not in producer and "oauth_cb" not in producer
    assert producer["acks"] == "all"
    assert producer["enable.idempotence"] is True
    assert producer["max.in.flight.requests.per.connection"] <= 5  # idempotence's ordering cap
    assert producer["delivery.timeout.ms"] == 12_000
    consumer = consumer_config(kafka, aws, "workers")
    assert consumer["enable.auto.commit"] is False
    assert consumer["enable.auto.offset.store"] is False
    assert consumer["partition.assignment.strategy"] == "cooperative-sticky"
    assert consumer["group.id"] == "workers"


# Short enough to observe a refresh (at 80%, 4.8 s), long enough that the 1.2 s margin covers
# poll() latency on a loaded 2-core machine.
TOKEN_LIFETIME_S = 6.0


def _quiet_logger() -> logging.Logger:
    logger = logging.getLogger("tests.msk_iam.librdkafka")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


@pytest.mark.usefixtures("static_credentials")
def test_confluent_kafka_accepts_the_callback_and_refreshes_the_token(
    unused_loopback_port: int,
) -> None:
    """A real librdkafka producer configured for msk-iam calls our oauth_cb, takes its token,
    and calls it again before expiry. The token lifetime is shortened to six seconds here so
    the refresh (at 80% of the lifetime) is observable; no AWS endpoint is contacted."""
    kafka = KafkaSettings(
        security_mode="msk-iam", bootstrap_servers=f"127.0.0.1:{unused_loopback_port}"
    )
    config = producer_config(kafka, AwsSettings(aws_region=REGION))
    signer = config["oauth_cb"]
    calls: list[tuple[float, float]] = []

    def recording_cb(oauthbearer_config: str | None) -> tuple[str, float]:
        # librdkafka asks at 80% of the lifetime; record the ask itself, before signing, so
        # a slow signature on a loaded machine is not mistaken for a late refresh.
        asked_at = time.time()
        token, _expiry = signer(oauthbearer_config)
        expiry = time.time() + TOKEN_LIFETIME_S
        calls.append((asked_at, expiry))
        return token, expiry

    config.update(
        {"oauth_cb": recording_cb, "logger": _quiet_logger(), "error_cb": lambda _e: None}
    )
    producer = Producer(config)
    deadline = time.monotonic() + 20
    while len(calls) < 2 and time.monotonic() < deadline:
        producer.poll(0.1)
    assert len(calls) >= 2, "librdkafka never refreshed the token"
    first_expiry, second_at = calls[0][1], calls[1][0]
    assert second_at < first_expiry  # refreshed before the first token expired
    producer.flush(0)
