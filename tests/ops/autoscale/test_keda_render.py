"""KEDA ScaledObject rendering and the DPP_AUTOSCALE_/DPP_LAG_ environment settings."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from dpp_ops.autoscale import (
    AutoscalePolicy,
    AutoscaleSettings,
    KedaTarget,
    render_scaled_object,
    to_yaml,
)
from dpp_ops.lag import LagSettings

TARGET = KedaTarget(
    name="dpp-consumer",
    namespace="events",
    deployment="dpp-consumer",
    bootstrap_servers="b-1.msk.example:9098,b-2.msk.example:9098",
    consumer_group="dpp-consumer",
    topic="dpp.events.v1",
    aws_region="eu-west-1",
)


def documents(policy: AutoscalePolicy, target: KedaTarget = TARGET) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(to_yaml(render_scaled_object(policy, target))))


def test_yaml_round_trips_to_the_rendered_documents() -> None:
    rendered = render_scaled_object(AutoscalePolicy(), TARGET)
    assert documents(AutoscalePolicy()) == rendered


def test_scaled_object_carries_the_policy() -> None:
    policy = AutoscalePolicy(
        lag_threshold=250, activation_lag_threshold=5, min_workers=0, max_workers=12,
        limit_to_partitions_with_lag=True, offset_reset_policy="latest",
        scale_to_zero_on_invalid_offset=True, scale_up_stabilization_s=30,
        scale_down_stabilization_s=600, cooldown_s=120, polling_interval_s=15,
    )  # fmt: skip
    auth, scaled = documents(policy)
    spec = scaled["spec"]
    assert scaled["kind"] == "ScaledObject" and scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert spec["scaleTargetRef"] == {"name": "dpp-consumer"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 12)
    assert (spec["pollingInterval"], spec["cooldownPeriod"]) == (15, 120)
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 30
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 600
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"] == {
        "bootstrapServers": TARGET.bootstrap_servers,
        "consumerGroup": "dpp-consumer",
        "topic": "dpp.events.v1",
        "lagThreshold": "250",
        "activationLagThreshold": "5",
        "offsetResetPolicy": "latest",
        "allowIdleConsumers": "false",
        "limitToPartitionsWithLag": "true",
        "scaleToZeroOnInvalidOffset": "true",
        "sasl": "oauthbearer",
        "saslTokenProvider": "aws_msk_iam",
        "tls": "enable",
        "awsRegion": "eu-west-1",
    }
    assert all(isinstance(v, str) for v in trigger["metadata"].values())
    assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}
    assert auth["kind"] == "TriggerAuthentication"
    assert auth["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}


def test_role_arn_and_plaintext_variants() -> None:
    with_role = TARGET.model_copy(update={"aws_role_arn": "arn:aws:iam::123456789012:role/keda"})
    auth, _ = documents(AutoscalePolicy(), with_role)
    assert auth["spec"]["podIdentity"] == {
        "provider": "aws",
        "roleArn": "arn:aws:iam::123456789012:role/keda",
    }
    (scaled,) = documents(AutoscalePolicy(), TARGET.model_copy(update={"msk_iam": False}))
    trigger = scaled["spec"]["triggers"][0]
    assert "authenticationRef" not in trigger and "sasl" not in trigger["metadata"]


def test_target_rejects_invalid_kubernetes_names() -> None:
    with pytest.raises(ValueError):
        KedaTarget.model_validate(TARGET.model_dump() | {"name": "Bad_Name"})


def test_autoscale_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "DPP_AUTOSCALE_LAG_THRESHOLD": "40",
        "DPP_AUTOSCALE_ACTIVATION_LAG_THRESHOLD": "3",
        "DPP_AUTOSCALE_MIN_WORKERS": "0",
        "DPP_AUTOSCALE_MAX_WORKERS": "6",
        "DPP_AUTOSCALE_ALLOW_IDLE_CONSUMERS": "true",
        "DPP_AUTOSCALE_SCALE_DOWN_STABILIZATION_S": "120",
        "DPP_AUTOSCALE_COOLDOWN_S": "90",
        "DPP_AUTOSCALE_TOPIC": "dpp.events.v1",
        "DPP_AUTOSCALE_AWS_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = AutoscaleSettings()
    policy = settings.policy()
    assert type(policy) is AutoscalePolicy
    assert (policy.lag_threshold, policy.activation_lag_threshold) == (40, 3)
    assert (policy.min_workers, policy.max_workers, policy.allow_idle_consumers) == (0, 6, True)
    assert (policy.scale_down_stabilization_s, policy.cooldown_s) == (120.0, 90.0)
    target = settings.target()
    assert (target.topic, target.aws_region) == ("dpp.events.v1", "us-east-1")


def test_autoscale_settings_validate_like_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPP_AUTOSCALE_MIN_WORKERS", "9")
    monkeypatch.setenv("DPP_AUTOSCALE_MAX_WORKERS", "2")
    with pytest.raises(ValueError, match="min_workers"):
        AutoscaleSettings()


def test_lag_settings_build_status_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPP_LAG_WINDOW_S", "300")
    monkeypatch.setenv("DPP_LAG_STOP_AFTER_S", "120")
    monkeypatch.setenv("DPP_LAG_OFFSET_RESET", "latest")
    settings = LagSettings()
    rules = settings.rules()
    assert (rules.window_s, rules.stop_after_s, settings.offset_reset) == (300.0, 120.0, "latest")
