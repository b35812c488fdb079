"""The producer and the worker with KAFKA_SECURITY_MODE=msk-iam against the MSK IAM stand-in:
their SigV4 tokens are verified, their Terraform policies authorize what they do, and a wrong
key, an expired token or a policy short of one action is refused, with the action named."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from dpp_ops.topic_admin import delete_topics
from dpp_producer.errors import ProduceFailedError, ProducerError
from dpp_producer.publisher import Delivery, EventPublisher
from dpp_shared.codec import encode
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY
from dpp_shared.kafka_config import producer_config
from dpp_shared.settings import AwsSettings, KafkaSettings
from dpp_shared.topics import RESULTS_TOPIC, TopicNamespace, declared_topics
from tests.consumer.harness import read_topic
from tests.infra import test_contract as terraform
from tests.rehearsal.deployment import consumer_tasks, declared_consumer_group
from tests.rehearsal.msk_iam.standin import MskIamBroker, Role
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ECHO = "demo.echo.requested.v1"


def _role(broker: MskIamBroker, name: str) -> Role:
    return next(role for role in broker.roles if role.name == name)


def _kafka(broker: MskIamBroker, security_mode: str) -> KafkaSettings:
    """The Kafka settings a deployed component builds from its environment, the bootstrap
    servers and CA bundle pointing at the stand-in's IAM listener."""
    return KafkaSettings(
        bootstrap_servers=broker.iam_bootstrap,
        security_mode=security_mode,  # checked against Terraform by the callers
        ssl_ca_location=str(broker.ca_file),
        delivery_timeout_ms=20_000,
    )


def _producer_security_mode() -> str:
    """KAFKA_SECURITY_MODE as the dev environment gives the producer Lambda."""
    mode = str(terraform.unquote(terraform.provided_environment("producer")["KAFKA_SECURITY_MODE"]))
    assert mode == "msk-iam", mode
    return mode


def _echo_record(message: str) -> tuple[str, Any]:
    event_type = REGISTRY.get(ECHO)
    payload = event_type.payload.model_validate({"session_id": "s-msk", "message": message})
    envelope = EventEnvelope(
        source="/tests/rehearsal/msk-iam",
        type=event_type.name,
        data=payload.model_dump(mode="json"),
    )
    return envelope.id, encode(envelope, payload, event_type, TopicNamespace(""))


@pytest.fixture
def as_role(monkeypatch: pytest.MonkeyPatch, msk_iam: MskIamBroker) -> Callable[[Role], None]:
    """Puts a role's credentials where botocore's default chain finds them (env vars), as the
    Lambda runtime does for the function's role; no config file or profile interferes."""

    def use(role: Role) -> None:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        for name, value in role.environment(msk_iam.region).items():
            monkeypatch.setenv(name, value)

    return use


def _publish(broker: MskIamBroker, message: str) -> tuple[str, Delivery]:
    """One event through the producer's own publisher and config (as its Lambda builds them)."""
    publisher = EventPublisher(
        producer_config(
            _kafka(broker, _producer_security_mode()),
            AwsSettings(aws_region=broker.region),
            role="producer-api",
        ),
        ack_timeout_s=30,
        retry_after_s=1,
        queue_limit=1_000,
    )
    job_id, record = _echo_record(message)
    try:
        return job_id, asyncio.run(publisher.publish(record))
    except ProducerError as error:
        raise AssertionError(f"{error}; broker refusals:\n{_refusals(broker)}") from error
    finally:
        publisher.close(10)


def _refusals(broker: MskIamBroker) -> str:
    """Denials and failed authentications in the broker log. A refusal that fails a request is
    logged at WARN; INFO ones are the quiet checks (a metadata listing that leaves out topics
    the role may not describe, a check that has a fallback)."""
    return "\n".join(
        line for line in broker.log().splitlines() if "MSK IAM DENIED" in line or "refused" in line
    )


def _errors_of(config: dict[str, Any], wait_s: float = 30.0) -> list[KafkaError]:
    """Starts a producer with `config` and returns the errors librdkafka reports while it
    connects (error_cb): the first one ends the wait."""
    errors: list[KafkaError] = []
    producer = Producer({**config, "error_cb": errors.append})
    try:
        # Refused at once when the producer is already in a fatal state; the reason comes
        # through error_cb all the same.
        with contextlib.suppress(KafkaException):
            producer.produce("dpp.demo.echo", b"never delivered")

        def reported() -> bool:
            try:
                producer.poll(0.2)
            except KafkaException as fatal:  # a fatal error is raised, not (only) reported
                errors.append(fatal.args[0])
            return bool(errors)

        wait_until(reported, wait_s, "an error from the broker")
    finally:
        with contextlib.suppress(KafkaException):  # a producer in fatal state refuses these
            producer.purge()
            producer.flush(1)
    return errors


# ---- the ECS tasks as processes, as ECS starts them -------------------------------------------


def _task_environment(broker: MskIamBroker, role: Role, task: str) -> dict[str, str]:
    """This process's environment less anything AWS-, Kafka- or DPP-related, plus what the
    task gets in ECS: its role's credentials, the region, `KAFKA_SECURITY_MODE` as the contract
    fixes it, and the stand-in's IAM listener and CA in place of MSK's."""
    mode = consumer_tasks()[task].fixed_values["KAFKA_SECURITY_MODE"]
    assert mode == "msk-iam", mode
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KAFKA_", "DPP_"))}
    return (
        env
        | role.environment(broker.region)
        | {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "DPP_ENV": "dev",
            "KAFKA_BOOTSTRAP_SERVERS": broker.iam_bootstrap,
            "KAFKA_SECURITY_MODE": mode,
            "KAFKA_SSL_CA_LOCATION": str(broker.ca_file),
        }
    )


class WorkerProcess:
    """`python -m dpp_consumer` (the image's `dpp consumer run`) with the worker task's
    environment, the role's credentials and the stand-in's address."""

    def __init__(self, broker: MskIamBroker, role: Role, database: Path) -> None:
        env = _task_environment(broker, role, "worker") | {
            "DPP_CONSUMER_GROUP": declared_consumer_group(),
            "DATABASE_URL": f"sqlite:///{database}",
            "DPP_METRICS_PORT": "0",
            "DPP_DRAIN_TIMEOUT_S": "5",
        }
        self.output = database.with_suffix(".log")
        with self.output.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dpp_consumer"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@pytest.fixture
def start_worker(
    tmp_path: Path, msk_iam: MskIamBroker
) -> Iterator[Callable[[Role], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(role: Role) -> WorkerProcess:
        worker = WorkerProcess(msk_iam, role, tmp_path / f"{role.name}.db")
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


def _job_status(database: Path, job_id: str) -> str | None:
    if not database.exists():
        return None
    with sqlite3.connect(database) as connection:
        try:
            row = connection.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        except sqlite3.OperationalError:  # the worker has not created its tables yet
            return None
    return None if row is None else str(row[0])


# ---- the path that must work -----------------------------------------------------------------


def test_the_producer_publishes_and_the_worker_completes_the_job_with_their_terraform_roles(
    msk_iam: MskIamBroker,
    as_role: Callable[[Role], None],
    start_worker: Callable[[Role], WorkerProcess],
    tmp_path: Path,
) -> None:
    worker = start_worker(_role(msk_iam, "worker"))
    wait_until(
        lambda: "partitions assigned" in worker.log() or worker.process.poll() is not None,
        90, "the worker's assignment",
    )  # fmt: skip
    assert worker.process.poll() is None, worker.log() + msk_iam.log()[-3000:]

    as_role(_role(msk_iam, "producer"))
    job_id, delivery = _publish(msk_iam, "hello through MSK IAM")
    assert delivery.topic == "dpp.demo.echo" and delivery.offset >= 0

    database = tmp_path / "worker.db"
    wait_until(lambda: _job_status(database, job_id) == "succeeded", 60, "the echo job")
    results = read_topic(
        msk_iam.admin_bootstrap,
        TopicNamespace("").physical(RESULTS_TOPIC),
        until=lambda records: any(
            json.loads(r.value or b"{}").get("job_id") == job_id for r in records
        ),
    )
    assert results, "the worker's transaction did not commit its result record"
    assert worker.stop() == 0, worker.log()
    log = msk_iam.log()
    assert "as role producer " in log and "as role worker " in log
    assert "WARN MSK IAM DENIED role=producer " not in log, log
    assert "WARN MSK IAM DENIED role=worker " not in log, log


def test_the_topics_task_creates_every_declared_topic_with_its_terraform_role(
    msk_iam: MskIamBroker,
) -> None:
    # Under dpp.*, the topics the role may administer (admin_topic_glob), and this test's own.
    namespace = TopicNamespace(f"dpp.r{uuid.uuid4().hex[:8]}.")
    env = _task_environment(msk_iam, _role(msk_iam, "topics"), "topics")
    env["DPP_TOPIC_PREFIX"] = namespace.prefix
    admin = AdminClient({"bootstrap.servers": msk_iam.admin_bootstrap})
    wanted = [namespace.physical(spec.name) for spec in declared_topics()]
    try:
        result = subprocess.run(
            consumer_tasks()["topics"].command,
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{_refusals(msk_iam)}"
        existing = admin.list_topics(timeout=10).topics
        assert not [topic for topic in wanted if topic not in existing]
        assert "WARN MSK IAM DENIED role=topics " not in msk_iam.log(), _refusals(msk_iam)
    finally:
        existing = admin.list_topics(timeout=10).topics
        delete_topics(admin, [topic for topic in wanted if topic in existing])


# ---- what must be refused --------------------------------------------------------------------


def test_a_wrong_secret_key_is_refused_at_authentication(
    msk_iam: MskIamBroker, as_role: Callable[[Role], None]
) -> None:
    producer = _role(msk_iam, "producer")
    as_role(Role(producer.name, producer.access_key_id, producer.secret_access_key + "x", {}))
    config = producer_config(_kafka(msk_iam, "msk-iam"), AwsSettings(aws_region=msk_iam.region))
    errors = _errors_of(config)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    wait_until(
        lambda: f"signature does not match (wrong secret key for {producer.access_key_id}"
        in msk_iam.log(),
        10, "the refusal in the broker log",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("signed_minutes_ago", "refusal"),
    [
        (16, "token expired at"),  # past the signer's 15-minute X-Amz-Expires
        (-10, "is in the future (skew)"),  # beyond the 5 minutes of clock skew allowed
    ],
    ids=["expired", "from-the-future"],
)
def test_a_token_outside_its_validity_is_refused(
    msk_iam: MskIamBroker,
    as_role: Callable[[Role], None],
    monkeypatch: pytest.MonkeyPatch,
    signed_minutes_ago: int,
    refusal: str,
) -> None:
    as_role(_role(msk_iam, "producer"))
    import botocore.auth  # type: ignore[import-untyped]

    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    signed_at = now - datetime.timedelta(minutes=signed_minutes_ago)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at)
    config = producer_config(_kafka(msk_iam, "msk-iam"), AwsSettings(aws_region=msk_iam.region))
    signer = config["oauth_cb"]

    def shifted_token(oauth_config: str | None) -> tuple[str, float]:
        token, _expiry = signer(oauth_config)
        # librdkafka refuses to send a token it knows has expired; claim a valid lifetime so
        # the broker, not the client, is what refuses it.
        return token, datetime.datetime.now(datetime.UTC).timestamp() + 600

    errors = _errors_of({**config, "oauth_cb": shifted_token})
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    wait_until(lambda: refusal in msk_iam.log(), 10, "the refusal in the broker log")


def test_a_producer_role_without_write_data_idempotently_is_refused(
    msk_iam: MskIamBroker, as_role: Callable[[Role], None]
) -> None:
    as_role(_role(msk_iam, "producer-without-idempotence"))
    config = producer_config(_kafka(msk_iam, "msk-iam"), AwsSettings(aws_region=msk_iam.region))
    errors = _errors_of(config)
    assert any("authorization failed" in e.str().lower() for e in errors), errors
    wait_until(
        lambda: "MSK IAM DENIED role=producer-without-idempotence "
        "action=kafka-cluster:WriteDataIdempotently" in msk_iam.log(),
        10, "the denial in the broker log",
    )  # fmt: skip


def test_a_worker_role_without_alter_transactional_id_cannot_start(
    msk_iam: MskIamBroker, start_worker: Callable[[Role], WorkerProcess]
) -> None:
    worker = start_worker(_role(msk_iam, "worker-without-transactions"))
    wait_until(lambda: worker.process.poll() is not None, 90, "the worker to give up")
    assert worker.process.returncode != 0
    assert "Transactional Id authorization failed" in worker.log(), worker.log()[-3000:]
    assert (
        "MSK IAM DENIED role=worker-without-transactions action=kafka-cluster:AlterTransactionalId"
        in msk_iam.log()
    )


def test_a_producer_may_not_write_a_topic_outside_its_policy(
    msk_iam: MskIamBroker, as_role: Callable[[Role], None]
) -> None:
    """The producer's grants name its event topics; the results topic is the worker's."""
    as_role(_role(msk_iam, "producer"))
    config = producer_config(_kafka(msk_iam, "msk-iam"), AwsSettings(aws_region=msk_iam.region))
    outcomes: list[KafkaError | None] = []
    producer = Producer(config)
    topic = TopicNamespace("").physical(RESULTS_TOPIC)
    producer.produce(
        topic, b"not the producer's to write", on_delivery=lambda e, _m: outcomes.append(e)
    )
    producer.flush(30)
    [error] = outcomes
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error
    wait_until(
        lambda: "MSK IAM DENIED role=producer action=kafka-cluster:DescribeTopic resource="
        f"{msk_iam.cluster_arn.replace(':cluster/', ':topic/')}/{topic}" in msk_iam.log(),
        10, "the denial in the broker log",
    )  # fmt: skip


def test_a_fatally_refused_producer_answers_with_the_cause_at_once_and_starts_afresh(
    msk_iam: MskIamBroker, as_role: Callable[[Role], None]
) -> None:
    """A role without WriteDataIdempotently fails the idempotent producer for good: the request
    waiting on it gets a 502 naming the refusal well before the ack timeout, and the next request
    builds a new producer (which a corrected policy would let through) rather than a dead one."""
    as_role(_role(msk_iam, "producer-without-idempotence"))
    ack_timeout_s = 60.0
    reasons: list[str] = []  # what the runtime's error counter is told
    publisher = EventPublisher(
        producer_config(_kafka(msk_iam, "msk-iam"), AwsSettings(aws_region=msk_iam.region)),
        ack_timeout_s=ack_timeout_s,
        retry_after_s=1,
        queue_limit=1_000,
        on_error=reasons.append,
    )
    try:
        started = time.monotonic()
        [first] = asyncio.run(publisher.publish_many([_echo_record("refused")[1]]))
        waited_s = time.monotonic() - started
        assert isinstance(first, ProduceFailedError), first
        assert "authorization failed" in str(first).lower(), first
        assert waited_s < ack_timeout_s / 2, f"answered after {waited_s:.1f} s"
        failed_producer = publisher.start()
        [second] = asyncio.run(publisher.publish_many([_echo_record("refused again")[1]]))
        assert isinstance(second, ProduceFailedError), second
        assert publisher.start() is not failed_producer
        assert reasons and set(reasons) == {"fatal"}, reasons
    finally:
        publisher.close(1)


def test_the_lag_publisher_task_puts_lag_metrics_with_its_terraform_role(
    msk_iam: MskIamBroker, tmp_path: Path
) -> None:
    """`dpp lag export --cloudwatch` as ECS runs it, with the lag publisher's role: it reads the
    workers' group (offsets, description, the first pending record, the pause switches) over
    the IAM listener and puts the metrics to CloudWatch (moto in server mode), refused nothing."""
    import boto3  # type: ignore[import-untyped]
    from moto.server import ThreadedMotoServer

    from dpp_ops.ports import free_port

    role = _role(msk_iam, "lag-publisher")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    task = consumer_tasks()["lag-publisher"]
    env = _task_environment(msk_iam, role, "lag-publisher") | {
        "DPP_CONSUMER_GROUP": declared_consumer_group(),
        "AWS_ENDPOINT_URL": endpoint,  # CloudWatch only: the MSK IAM token is signed locally
    }
    namespace = terraform.contract()["lag-publisher"]["metrics"]["namespace"]
    cloudwatch = boto3.client(
        "cloudwatch", endpoint_url=endpoint, region_name=msk_iam.region,
        aws_access_key_id=role.access_key_id, aws_secret_access_key=role.secret_access_key,
    )  # fmt: skip
    log = tmp_path / "lag-publisher.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*task.command, "--interval", "1", "--port", "0"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def put() -> bool:
            names = {
                m["MetricName"] for m in cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
            }
            return {"ConsumerLagMessages", "WorkerCount"} <= names or process.poll() is not None

        wait_until(put, 90, "the lag metrics in CloudWatch")
        assert process.poll() is None, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        server.stop()
    assert code == 0, log.read_text()[-3000:]
    assert "WARN MSK IAM DENIED role=lag-publisher " not in msk_iam.log(), _refusals(msk_iam)
    assert "as role lag-publisher " in msk_iam.log()
