"""The MSK IAM stand-in broker for this package's tests: roles from the Terraform, one broker
per module, every declared topic created under its deployed name."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from dpp_ops.topic_admin import apply_topics
from dpp_shared.topics import TopicNamespace, declared_topics
from tests.infra import test_contract as terraform
from tests.rehearsal.msk_iam.policies import (
    lag_publisher_policy,
    producer_policy,
    topics_policy,
    without,
    worker_policy,
)
from tests.rehearsal.msk_iam.standin import MskIamBroker, StandInError, new_role

ACCOUNT = "123456789012"
CLUSTER_NAME = "dev-dev01-dpp-msk"  # "${local.name}-msk" with the dev tfvars


def _dev_region() -> str:
    variables = terraform.labelled(terraform.DEV / "variables.tf", "variable")
    return str(terraform.unquote(variables["aws_region"]["default"]))


@pytest.fixture(scope="module")
def msk_iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MskIamBroker]:
    """A private broker (so topics keep the names the policies grant) with four roles: the
    producer's and the worker's as Terraform declares them, and each less one action."""
    missing = [tool for tool in ("java", "javac", "mvn") if shutil.which(tool) is None]
    if missing:
        reason = f"the MSK IAM stand-in needs {missing} (./dev test installs them)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    region = _dev_region()
    # The one value AWS assigns: arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>-<n>.
    cluster_arn = f"arn:aws:kafka:{region}:{ACCOUNT}:cluster/{CLUSTER_NAME}/{uuid.uuid4()}-s1"
    producer = producer_policy(cluster_arn)
    worker = worker_policy(cluster_arn)
    roles = [
        new_role("producer", producer),
        new_role("worker", worker),
        new_role(
            "producer-without-idempotence",
            without(producer, "kafka-cluster:WriteDataIdempotently"),
        ),
        new_role(
            "worker-without-transactions", without(worker, "kafka-cluster:AlterTransactionalId")
        ),
        new_role("topics", topics_policy(cluster_arn)),
        new_role("lag-publisher", lag_publisher_policy(cluster_arn)),
    ]
    home = Path(tempfile.mkdtemp(prefix="dpp-msk-iam-"))
    broker = MskIamBroker(home, region, cluster_arn, roles)
    try:
        broker.start()
    except StandInError as error:
        shutil.rmtree(home, ignore_errors=True)
        pytest.fail(str(error))
    try:
        apply_topics(
            AdminClient({"bootstrap.servers": broker.admin_bootstrap}),
            declared_topics(),
            TopicNamespace(""),
        )
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)
