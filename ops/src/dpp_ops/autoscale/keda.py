"""Renders an AutoscalePolicy as a KEDA ScaledObject (Kafka scaler) with MSK IAM auth."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dpp_ops.autoscale.policy import AutoscalePolicy

_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class KedaTarget(BaseModel):
    """What the ScaledObject scales and which group/topic it watches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME, max_length=63)
    """Name of the ScaledObject (the TriggerAuthentication gets ``<name>-msk-iam``)."""
    namespace: str = Field(default="default", pattern=_NAME, max_length=63)
    deployment: str = Field(pattern=_NAME, max_length=253)
    """The Deployment running the workers (``scaleTargetRef``)."""
    bootstrap_servers: str = Field(min_length=1)
    """MSK IAM bootstrap brokers (port 9098)."""
    consumer_group: str = Field(min_length=1)
    topic: str | None = Field(default=None, min_length=1)
    """None watches every topic the group consumes (KEDA sums their lag), as the local
    autoscaler does (job topics plus retry tiers)."""
    aws_region: str = Field(default="eu-west-1", min_length=1)
    aws_role_arn: str | None = None
    """Role KEDA assumes for MSK; None uses the KEDA operator's own pod identity."""
    msk_iam: bool = True
    """False renders a plaintext trigger without authentication (local clusters)."""


def render_scaled_object(policy: AutoscalePolicy, target: KedaTarget) -> list[dict[str, Any]]:
    """The TriggerAuthentication (when MSK IAM) and the ScaledObject, as plain dicts.

    Every value of a trigger's ``metadata`` is a string, as KEDA requires. HPA's tolerance is
    not rendered: it is a cluster-wide setting (0.1 by default, the policy's default too).
    """
    metadata: dict[str, str] = {
        "bootstrapServers": target.bootstrap_servers,
        "consumerGroup": target.consumer_group,
        "lagThreshold": str(policy.lag_threshold),
        "activationLagThreshold": str(policy.activation_lag_threshold),
        "offsetResetPolicy": policy.offset_reset_policy,
        "allowIdleConsumers": _flag(policy.allow_idle_consumers),
        "limitToPartitionsWithLag": _flag(policy.limit_to_partitions_with_lag),
        "scaleToZeroOnInvalidOffset": _flag(policy.scale_to_zero_on_invalid_offset),
    }
    if target.topic is not None:
        metadata["topic"] = target.topic
    trigger: dict[str, Any] = {"type": "kafka", "metadata": metadata}
    documents: list[dict[str, Any]] = []
    if target.msk_iam:
        auth_name = f"{target.name}-msk-iam"
        metadata.update(
            {
                "sasl": "oauthbearer",
                "saslTokenProvider": "aws_msk_iam",
                "tls": "enable",
                "awsRegion": target.aws_region,
            }
        )
        identity: dict[str, Any] = {"provider": "aws"}
        if target.aws_role_arn:
            identity["roleArn"] = target.aws_role_arn
        else:
            identity["identityOwner"] = "keda"
        documents.append(
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "TriggerAuthentication",
                "metadata": {"name": auth_name, "namespace": target.namespace},
                "spec": {"podIdentity": identity},
            }
        )
        trigger["authenticationRef"] = {"name": auth_name}

    documents.append(
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": target.name, "namespace": target.namespace},
            "spec": {
                "scaleTargetRef": {"name": target.deployment},
                "pollingInterval": policy.polling_interval_s,
                "cooldownPeriod": _seconds(policy.cooldown_s),
                "minReplicaCount": policy.min_workers,
                "maxReplicaCount": policy.max_workers,
                "advanced": {
                    "horizontalPodAutoscalerConfig": {
                        "behavior": {
                            "scaleUp": {
                                "stabilizationWindowSeconds": _seconds(
                                    policy.scale_up_stabilization_s
                                )
                            },
                            "scaleDown": {
                                "stabilizationWindowSeconds": _seconds(
                                    policy.scale_down_stabilization_s
                                )
                            },
                        }
                    }
                },
                "triggers": [trigger],
            },
        }
    )
    return documents


def to_yaml(documents: Sequence[Mapping[str, Any]]) -> str:
    """Block-style YAML for ``kubectl apply -f``; strings are double-quoted, so it is exact."""
    return "---\n".join("\n".join(_block(doc, 0)) + "\n" for doc in documents)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _seconds(value: float) -> int:
    return round(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return _flag(value)
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping) and not value:
        return "{}"
    if isinstance(value, list) and not value:
        return "[]"
    # JSON escapes are valid in YAML double-quoted scalars.
    return json.dumps(str(value))


def _is_block(value: Any) -> bool:
    return isinstance(value, Mapping | list) and bool(value)


def _block(node: Mapping[str, Any] | list[Any], indent: int) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(node, Mapping):
        for raw_key, value in node.items():
            key = (
                raw_key
                if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", raw_key)
                else json.dumps(raw_key)
            )
            if _is_block(value):
                lines.append(f"{pad}{key}:")
                lines.extend(_block(value, indent + 1))
            else:
                lines.append(f"{pad}{key}: {_scalar(value)}")
        return lines
    for item in node:
        if _is_block(item):
            nested = _block(item, indent + 1)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines.extend(nested[1:])
        else:
            lines.append(f"{pad}- {_scalar(item)}")
    return lines
