"""The AsyncAPI 3.0 document: channels are topics, messages are event types, Kafka bindings."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from dpp_shared.envelope import TRACEPARENT_PATTERN
from dpp_shared.events import EventRegistry, EventType
from dpp_shared.topics import TopicRole, TopicSpec

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
COMPONENT_REF = "#/components/schemas/{model}"


def component_id(name: str) -> str:
    """An id usable as an AsyncAPI object key and in `$ref` paths: dots become underscores."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _headers_schema(event_type: EventType) -> dict[str, Any]:
    """The Kafka headers of binary-mode CloudEvents (see `dpp_shared.codec`)."""
    text = {"type": "string"}
    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"],
        "properties": {
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_id": {**text, "description": "Event id, a UUIDv7 unless the producer set one"},
            "ce_source": {**text, "description": "URI-reference of the producer"},
            "ce_type": {"type": "string", "const": event_type.name},
            "ce_time": {**text, "format": "date-time"},
            "content-type": {"type": "string", "const": "application/json"},
            "ce_subject": text,
            "ce_dataschema": {**text, "description": f"{event_type.dataschema}"},
            "ce_correlationid": {**text, "description": "Ties together events of one request"},
            "ce_idempotencykey": {**text, "description": "Producer-side deduplication key"},
            "traceparent": {
                **text,
                "pattern": TRACEPARENT_PATTERN.pattern,
                "description": "W3C trace context, passed through unchanged",
            },
        },
    }


def _message(event_type: EventType, payload_ref: str) -> dict[str, Any]:
    return {
        "name": event_type.name,
        "title": event_type.name,
        "summary": event_type.description,
        "contentType": "application/json",
        "headers": _headers_schema(event_type),
        "payload": {"$ref": payload_ref},
        "correlationId": {
            "description": "The correlation id extension attribute",
            "location": "$message.header#/ce_correlationid",
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": f"Partition key: the payload field `{event_type.key_field}`",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-dpp-scope": event_type.scope,
        "x-dpp-key-field": event_type.key_field,
        "x-dpp-ordered": event_type.ordered,
        "x-dpp-dataschema": event_type.dataschema,
    }


_ROLE_DESCRIPTIONS = {
    TopicRole.MAIN: "Job requests.",
    TopicRole.RESULTS: "Job lifecycle events published by the workers.",
    TopicRole.DEAD_LETTER: "Records that failed for good or could not be decoded: the original "
    "record with headers saying why.",
}


def _channel(spec: TopicSpec, message_ids: list[str]) -> dict[str, Any]:
    channel_id = component_id(spec.name)
    if spec.role is TopicRole.RETRY:
        description = (
            f"Retry tier {spec.retry_tier} of {spec.source_topic}, "
            f"delayed {spec.retry_delay_s or 0:g} s."
        )
    else:
        description = _ROLE_DESCRIPTIONS[spec.role]
    channel: dict[str, Any] = {
        "address": spec.name,
        "title": spec.name,
        "description": description,
        "messages": {
            message_id: {"$ref": f"#/components/messages/{message_id}"}
            for message_id in message_ids
        },
        "bindings": {
            "kafka": {
                "topic": spec.name,
                "partitions": spec.partitions,
                "topicConfiguration": {
                    "cleanup.policy": [spec.cleanup_policy],
                    "retention.ms": spec.retention_ms,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-dpp-role": str(spec.role),
    }
    if not message_ids:
        del channel["messages"]
    return {channel_id: channel}


def asyncapi_document(registry: EventRegistry, topics: Iterable[TopicSpec]) -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document for `registry` routed onto `topics`."""
    specs = list(topics)
    by_topic: dict[str, list[EventType]] = {}
    for event_type in registry:
        by_topic.setdefault(event_type.topic, []).append(event_type)

    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type in registry:
        payload = event_type.payload.model_json_schema(
            mode="validation", ref_template=COMPONENT_REF
        )
        schemas.update(payload.pop("$defs", {}))
        schema_id = component_id(event_type.name)
        schemas[schema_id] = payload
        messages[schema_id] = _message(event_type, COMPONENT_REF.format(model=schema_id))

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for spec in specs:
        # Retry tiers carry the same events as their source topic.
        carried = by_topic.get(spec.source_topic or spec.name, [])
        message_ids = [component_id(event_type.name) for event_type in carried]
        channels.update(_channel(spec, message_ids))
        if spec.role in (TopicRole.MAIN, TopicRole.RESULTS):
            channel_id = component_id(spec.name)
            refs = [
                {"$ref": f"#/channels/{channel_id}/messages/{message_id}"}
                for message_id in message_ids
            ]
            operations[f"publish_{channel_id}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"Publish to {spec.name} (producer API or workers)",
                "messages": refs,
            }
            operations[f"consume_{channel_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"Consume {spec.name} (worker pool)",
                "messages": refs,
            }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "dpp-events",
            "version": DOCUMENT_VERSION,
            "description": "Events of the Digital Persona Platform. Every message is a CloudEvents "
            "1.0 event in Kafka binary mode: attributes in `ce_*` headers, the payload as the "
            "JSON value, the partition key as the record key.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "sandbox": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "Local sandbox broker, plaintext (KAFKA_SECURITY_MODE=plaintext).",
            },
            "msk": {
                "host": "{bootstrap}",
                "protocol": "kafka-secure",
                "description": "Amazon MSK with IAM auth: SASL_SSL + OAUTHBEARER "
                "(KAFKA_SECURITY_MODE=msk-iam).",
                "variables": {
                    "bootstrap": {"description": "The cluster's IAM bootstrap brokers (port 9098)"}
                },
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }
