"""Each ECS task of the consumer module, started as ECS starts it: the consumer image, the
task's command and the environment Terraform declares (values pointed at the local broker and
PostgreSQL), a read-only root file system, against the session's real Kafka and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import boto3  # type: ignore[import-untyped]
import psycopg
import pytest
from confluent_kafka.admin import AdminClient

from dpp_ops.ports import free_port
from dpp_ops.topic_admin import delete_topics
from dpp_shared.topics import RESULTS_TOPIC, TopicNamespace, declared_topics
from tests.consumer.harness import produce_echo, read_topic
from tests.fixtures.database import fresh_postgres_database
from tests.fixtures.kafka import delete_groups
from tests.rehearsal.deployment import consumer_tasks, declared_consumer_group
from tests.rehearsal.podman import Podman
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# The deployment points these at AWS; the rehearsal points them at what runs here. A name the
# deployment adds without an entry here fails the test, so the rehearsal never runs with less
# than ECS gives. "kafka", "database" and "group" stand for this test's broker, database and the
# group Terraform names; anything else is used as it is.
LOCAL_VALUE_OF = {
    "DPP_ENV": "dev",  # the environment's name, as Terraform sets it: a deployed one
    "KAFKA_BOOTSTRAP_SERVERS": "kafka",
    "KAFKA_SECURITY_MODE": "msk-iam",
    "AWS_REGION": "us-east-1",
    "KAFKA_CONSUMER_GROUP": "group",
    "DPP_CONSUMER_GROUP": "group",
    "DATABASE_URL": "database",
    "DATABASE_SECRET_ARN": "database-secret",  # Aurora's master secret, served by moto
    "DPP_TRACING": "off",  # Terraform's default (`tracing.mode`)
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",  # read only when tracing is on
}
# The one deliberate difference: the local broker has no MSK IAM listener, so PLAINTEXT.
LOCAL_OVERRIDES = {"KAFKA_SECURITY_MODE": "plaintext"}


@dataclass(frozen=True)
class AwsStandIn:
    """moto in server mode holding the secret Terraform creates, and the credentials and
    endpoint that stand in for the task role and AWS's own endpoints."""

    endpoint: str
    database_secret_arn: str

    @property
    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }


@pytest.fixture(scope="module")
def aws(postgres_url: str) -> Iterator[AwsStandIn]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "secretsmanager", endpoint_url=endpoint, region_name=LOCAL_VALUE_OF["AWS_REGION"],
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        # The shape of Aurora's RDS-managed master secret: username and password only.
        username = urlsplit(postgres_url).username
        secret = json.dumps({"username": username, "password": uuid.uuid4().hex})
        arn = client.create_secret(Name=f"rds!cluster-{uuid.uuid4().hex[:8]}", SecretString=secret)
        yield AwsStandIn(endpoint, arn["ARN"])
    finally:
        server.stop()


def task_environment(task: str, *, kafka: str, database: str, aws: AwsStandIn) -> dict[str, str]:
    declared = consumer_tasks()[task]
    unknown = sorted(set(declared.environment) - set(LOCAL_VALUE_OF))
    assert not unknown, f"the deployment gives the {task} task {unknown}; give them local values"
    for name, value in declared.fixed_values.items():
        assert LOCAL_VALUE_OF.get(name) == value, f"{name} is {value!r} in the deployment"
    resolved = {
        "kafka": kafka,
        "database": database,
        "group": declared_consumer_group(),
        "database-secret": aws.database_secret_arn,
    }
    environment = {
        name: resolved.get(LOCAL_VALUE_OF[name], LOCAL_VALUE_OF[name])
        for name in declared.environment
    }
    overrides = {k: v for k, v in LOCAL_OVERRIDES.items() if k in environment}
    return {**environment, **overrides, **aws.environment}


@pytest.fixture
def namespace(kafka_admin: AdminClient) -> Iterator[TopicNamespace]:
    """A topic prefix of this test's own, for the topics the topics task creates."""
    namespace = TopicNamespace(f"r{uuid.uuid4().hex[:10]}.")
    try:
        yield namespace
    finally:
        existing = kafka_admin.list_topics(timeout=10).topics
        physical = [namespace.physical(spec.name) for spec in declared_topics()]
        delete_topics(kafka_admin, [topic for topic in physical if topic in existing])


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    """A fresh database; its URL has the user and no password, like Terraform's
    database_url (the password is in the secret)."""
    with fresh_postgres_database(postgres_url) as url:
        yield url


def run_task_to_completion(
    podman: Podman, image: str, task: str, env: Mapping[str, str]
) -> tuple[int, str]:
    name = f"dpp-rehearsal-{task}-{uuid.uuid4().hex[:8]}"
    command = consumer_tasks()[task].command
    try:
        podman.run(*podman.run_task(image, command, env, name=name), timeout_s=180)
        return 0, podman.logs(name)
    except AssertionError:
        code = podman.exit_code(name)
        return (code if code is not None else -1), podman.logs(name)
    finally:
        podman.run("rm", "-f", name, check=False)


def job_status(database_url: str, job_id: str) -> str | None:
    conninfo = "postgresql://" + database_url.split("://", 1)[1]
    with psycopg.connect(conninfo) as connection:
        row = connection.execute("SELECT status FROM jobs WHERE id = %s", (job_id,)).fetchone()
    return None if row is None else str(row[0])


def test_the_topics_task_creates_every_declared_topic(
    podman: Podman,
    consumer_image: str,
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    namespace: TopicNamespace,
    database: str,
    aws: AwsStandIn,
) -> None:
    env = task_environment("topics", kafka=kafka_bootstrap, database=database, aws=aws)
    code, logs = run_task_to_completion(
        podman, consumer_image, "topics", {**env, "DPP_TOPIC_PREFIX": namespace.prefix}
    )
    assert code == 0, logs
    existing = kafka_admin.list_topics(timeout=10).topics
    for spec in declared_topics():
        topic = existing.get(namespace.physical(spec.name))
        assert topic is not None, f"{spec.name} missing after the topics task:\n{logs}"
        assert len(topic.partitions) == spec.partitions


def test_the_worker_task_consumes_a_job_completes_it_and_drains_on_sigterm(
    podman: Podman,
    consumer_image: str,
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    namespace: TopicNamespace,
    database: str,
    aws: AwsStandIn,
) -> None:
    # Topics first, by the topics task, as the deploy does.
    env = task_environment("worker", kafka=kafka_bootstrap, database=database, aws=aws)
    # Local only: this test's topics, and a free metrics port (the host network is shared).
    env = {**env, "DPP_TOPIC_PREFIX": namespace.prefix, "DPP_METRICS_PORT": str(free_port())}
    code, logs = run_task_to_completion(podman, consumer_image, "topics", env)
    assert code == 0, logs

    name = f"dpp-rehearsal-worker-{uuid.uuid4().hex[:8]}"
    command = consumer_tasks()["worker"].command
    podman.run(*podman.run_task(consumer_image, command, env, name=name, detach=True))
    try:
        wait_until(lambda: "partitions assigned" in podman.logs(name), 90, "the assignment")
        [job_id] = produce_echo(kafka_bootstrap, namespace, ["hello from the ECS rehearsal"])
        wait_until(lambda: job_status(database, job_id) == "succeeded", 60, "the echo job")
        results = read_topic(
            kafka_bootstrap,
            namespace.physical(RESULTS_TOPIC),
            until=lambda records: any(
                json.loads(r.value or b"{}").get("job_id") == job_id for r in records
            ),
        )
        announced = [json.loads(r.value or b"{}") for r in results]
        assert any(a.get("job_id") == job_id for a in announced), announced

        # The worker joined the group the task definition names.
        groups = {g.group_id for g in kafka_admin.list_consumer_groups().result().valid}
        assert declared_consumer_group() in groups

        # ECS stops a task with SIGTERM and waits stopTimeout (60 s) before SIGKILL.
        podman.run("stop", "--time", "60", name, timeout_s=90)
        logs = podman.logs(name)
        assert podman.exit_code(name) == 0, logs
        assert '"message":"drained"' in logs, logs
    finally:
        podman.run("rm", "-f", name, check=False)
        delete_groups(kafka_admin, [declared_consumer_group()])
