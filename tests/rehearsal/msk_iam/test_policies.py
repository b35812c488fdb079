"""The role policies rendered from Terraform: each kafka-cluster action granted on the kind of
resource MSK checks it against, and an interpreter that refuses what it cannot evaluate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.infra import test_contract as terraform
from tests.rehearsal.msk_iam.policies import (
    HclError,
    Scope,
    evaluate_raw,
    producer_policy,
    topics_policy,
    worker_policy,
)

CLUSTER_ARN = "arn:aws:kafka:us-east-1:123456789012:cluster/dev-dev01-dpp-msk/abcd-1234-s1"

# MSK's "Semantics of IAM authorization policy actions and resources": the resource each
# action is checked against (IDEMPOTENT_WRITE is a cluster operation in Kafka, hence cluster).
RESOURCE_KIND = {
    "kafka-cluster:Connect": "cluster",
    "kafka-cluster:DescribeCluster": "cluster",
    "kafka-cluster:AlterCluster": "cluster",
    "kafka-cluster:DescribeClusterDynamicConfiguration": "cluster",
    "kafka-cluster:AlterClusterDynamicConfiguration": "cluster",
    "kafka-cluster:WriteDataIdempotently": "cluster",
    "kafka-cluster:CreateTopic": "topic",
    "kafka-cluster:DescribeTopic": "topic",
    "kafka-cluster:AlterTopic": "topic",
    "kafka-cluster:DeleteTopic": "topic",
    "kafka-cluster:DescribeTopicDynamicConfiguration": "topic",
    "kafka-cluster:AlterTopicDynamicConfiguration": "topic",
    "kafka-cluster:ReadData": "topic",
    "kafka-cluster:WriteData": "topic",
    "kafka-cluster:DescribeGroup": "group",
    "kafka-cluster:AlterGroup": "group",
    "kafka-cluster:DeleteGroup": "group",
    "kafka-cluster:DescribeTransactionalId": "transactional-id",
    "kafka-cluster:AlterTransactionalId": "transactional-id",
}


@pytest.mark.parametrize(
    ("component", "render"),
    [("producer", producer_policy), ("worker", worker_policy), ("topics", topics_policy)],
)
def test_every_contract_action_is_granted_on_the_resource_kind_msk_checks(
    component: str, render: Callable[[str], dict[str, Any]]
) -> None:
    policy = render(CLUSTER_ARN)
    granted: set[str] = set()
    for statement in policy["Statement"]:
        for action in statement["Action"]:
            kind = RESOURCE_KIND[action]
            for resource in statement["Resource"]:
                assert resource.split(":")[5].split("/")[0] == kind, (
                    f"{component}: {action} is granted on {resource}; MSK checks it on a {kind}"
                )
                assert "/dev-dev01-dpp-msk/abcd-1234-s1" in resource
            granted.add(action)
    declared = terraform.contract()[component]["kafka_actions"]
    assert granted == {a for actions in declared.values() for a in actions}
    for kind, actions in declared.items():
        for action in actions:
            assert RESOURCE_KIND[action] == kind.replace("_", "-"), (
                f"the contract lists {action} under {kind}; MSK checks it on a "
                f"{RESOURCE_KIND[action]}"
            )


def test_the_interpreter_evaluates_the_forms_terraform_uses_and_refuses_others() -> None:
    scope = Scope({"topics": ['"a"', '"b.results"']})
    nested = '${flatten([for t in local.topics : [for n in [1, 2] : "${t}.${n}"] if t != "a"])}'
    assert evaluate_raw(nested, scope) == ["b.results.1", "b.results.2"]
    kept = '${concat(["c"], [for t in local.topics : t if !startswith(t, "b")])}'
    assert evaluate_raw(kept, scope) == ["c", "a"]
    arn = '"${replace("arn:x:cluster/n/u", ":cluster/", ":topic/")}/${local.topics[0]}"'
    assert evaluate_raw(arn, scope) == "arn:x:topic/n/u/a"
    with pytest.raises(HclError, match="unknown reference"):
        evaluate_raw("${local.missing}", scope)
    with pytest.raises(HclError, match="not interpreted"):
        evaluate_raw('${lookup(local.topics, "a")}', scope)
