"""confluent-kafka configuration built from settings: durable producers, at-least-once consumers."""

from __future__ import annotations

from typing import Any

from dpp_shared.msk_iam import make_oauth_callback
from dpp_shared.settings import AwsSettings, KafkaSettings


def _connection(kafka: KafkaSettings, aws: AwsSettings, role: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "client.id": f"{kafka.client_id}-{role}",
    }
    if kafka.security_mode == "msk-iam":
        config.update(
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanisms": "OAUTHBEARER",
                "oauth_cb": make_oauth_callback(aws.aws_region),
            }
        )
        if kafka.ssl_ca_location:
            config["ssl.ca.location"] = kafka.ssl_ca_location
    return config


def producer_config(
    kafka: KafkaSettings, aws: AwsSettings, role: str = "producer"
) -> dict[str, Any]:
    """A producer that never loses an acknowledged record and never duplicates on retry."""
    return {
        **_connection(kafka, aws, role),
        "acks": "all",
        "enable.idempotence": True,
        "max.in.flight.requests.per.connection": 5,
        "delivery.timeout.ms": kafka.delivery_timeout_ms,
        "linger.ms": kafka.linger_ms,
        "compression.type": kafka.compression_type,
    }


def consumer_config(
    kafka: KafkaSettings, aws: AwsSettings, group_id: str, role: str = "consumer"
) -> dict[str, Any]:
    """A group consumer for at-least-once processing: offsets are stored and committed by the
    application only after the outcome is durable."""
    return {
        **_connection(kafka, aws, role),
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "isolation.level": "read_committed",
    }


def admin_config(kafka: KafkaSettings, aws: AwsSettings) -> dict[str, Any]:
    return _connection(kafka, aws, "admin")
