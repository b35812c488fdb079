"""Fixtures of the Lambda rehearsal: the zip, moto in server mode, the emulator, the HTTP API."""

from __future__ import annotations

import json
import platform
import secrets
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from confluent_kafka.admin import AdminClient

from dpp_ops.ports import free_port
from dpp_ops.topic_admin import apply_topics
from dpp_shared.topics import declared_topics

from .emulator import LambdaEmulator, rie_binary, runtime_directory
from .gateway import RouteTable, http_api
from .terraform import ProducerDeclaration, producer_declaration

REPO = Path(__file__).resolve().parents[3]
REGION = "eu-west-1"
# Terraform's aws_secretsmanager_random_password for the JWT key: 64 characters, no punctuation.
JWT_SECRET_LENGTH = 64


@dataclass(frozen=True)
class AwsStandIn:
    """moto in server mode over real HTTP, holding the secrets Terraform creates."""

    endpoint: str
    jwt_secret_arn: str
    jwt_secret: str
    database_secret_arn: str

    def environment(self) -> dict[str, str]:
        # AWS_ENDPOINT_URL stands in for the private DNS of the VPC interface endpoints.
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": REGION,
        }

    def client(self, service: str) -> Any:
        import boto3  # type: ignore[import-untyped]

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def declaration() -> ProducerDeclaration:
    return producer_declaration()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def aws(moto_endpoint: str, postgres_url: str) -> AwsStandIn:
    """The JWT secret (a plain random string, as modules/secrets stores it) and Aurora's
    RDS-managed master secret (JSON with username and password only)."""
    stand_in = AwsStandIn(moto_endpoint, "", "", "")
    client = stand_in.client("secretsmanager")
    jwt_secret = client.get_random_password(
        PasswordLength=JWT_SECRET_LENGTH, ExcludePunctuation=True
    )["RandomPassword"]
    run = secrets.token_hex(4)
    jwt_arn = client.create_secret(Name=f"dev-dev01-dpp-jwt-secret-{run}", SecretString=jwt_secret)
    database_arn = client.create_secret(
        Name=f"rds!cluster-{run}",
        SecretString=json.dumps(
            {"username": urlsplit(postgres_url).username, "password": secrets.token_hex(16)}
        ),
    )
    return AwsStandIn(moto_endpoint, jwt_arn["ARN"], jwt_secret, database_arn["ARN"])


@pytest.fixture(scope="session")
def rie() -> Path:
    binary = rie_binary()
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip("the Lambda Runtime Interface Emulator runs on Linux x86_64/arm64 only")
    if binary is None:
        pytest.fail("aws-lambda-rie is missing: `bash infra/tools/install.sh` installs it")
    return binary


@pytest.fixture(scope="session")
def lambda_task_dir(
    declaration: ProducerDeclaration, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The zip `dpp producer package` builds for the declared runtime, unzipped like /var/task."""
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if current != declaration.python_version:
        pytest.skip(
            f"Terraform declares {declaration.runtime}; this interpreter is Python {current}, "
            "and the zip's native wheels are built for the declared one"
        )
    from dpp_producer.lambda_package import build_lambda_zip

    root = tmp_path_factory.mktemp("lambda")
    report = build_lambda_zip(root / "producer-lambda.zip", python_version=current)
    task = root / "task"
    with zipfile.ZipFile(report.path) as archive:
        archive.extractall(task)
    return task


@pytest.fixture(scope="session")
def lambda_runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return runtime_directory(tmp_path_factory.mktemp("lambda-runtime"))


@pytest.fixture(scope="session")
def unprefixed_topics(kafka_bootstrap: str) -> str:
    """Terraform gives the producer no topic prefix: the declared topics, as `dpp topics apply`
    creates them in the cluster (idempotent)."""
    apply_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), declared_topics())
    return kafka_bootstrap


@pytest.fixture(scope="session")
def lambda_database(postgres_url: str) -> Iterator[str]:
    """A database of its own, as its URL without password (what Terraform's database_url is)."""
    from tests.fixtures.database import fresh_postgres_database

    with fresh_postgres_database(postgres_url) as url:
        yield url


def local_environment(
    declaration: ProducerDeclaration, aws: AwsStandIn, bootstrap: str, database_url: str
) -> dict[str, str]:
    """Terraform's producer environment, name for name, each value a local stand-in for the
    expression Terraform gives it. An expression without a stand-in fails the rehearsal, so a
    new setting in the Terraform cannot go untried."""
    stand_ins = {
        "${var.environment}": declaration.tfvars["environment"],
        "${module.secrets.secret_arn}": aws.jwt_secret_arn,
        "${module.msk.bootstrap_brokers_sasl_iam}": bootstrap,
        # The local broker speaks PLAINTEXT; MSK IAM is rehearsed elsewhere (issue 13).
        '"msk-iam"': "plaintext",
        "${module.database.database_url}": database_url,
        "${module.database.master_user_secret_arn}": aws.database_secret_arn,
        # The tracing variable's defaults (infra/environments/dev/variables.tf): off.
        "${var.tracing.mode}": "off",
        "${var.tracing.otlp_endpoint}": "http://localhost:4318",
        "${local.cors_origin}": (
            f"https://{declaration.tfvars['sub_environment']}.{declaration.tfvars['domain_name']}"
        ),
    }
    environment = {}
    for name, expression in declaration.environment.items():
        if expression not in stand_ins:
            pytest.fail(f"Terraform gives the producer {name} = {expression}; no local stand-in")
        environment[name] = stand_ins[expression]
    return environment


StartEmulator = Callable[[dict[str, str]], LambdaEmulator]


@pytest.fixture
def start_emulator(
    rie: Path,
    declaration: ProducerDeclaration,
    lambda_task_dir: Path,
    lambda_runtime_dir: Path,
    aws: AwsStandIn,
    tmp_path: Path,
) -> Iterator[StartEmulator]:
    """Starts execution environments with a given function environment; stops them after."""
    started: list[LambdaEmulator] = []

    def start(function_environment: dict[str, str]) -> LambdaEmulator:
        emulator = LambdaEmulator(
            task_dir=lambda_task_dir,
            runtime_dir=lambda_runtime_dir,
            # The interpreter itself, not this test's virtual environment.
            python=getattr(sys, "_base_executable", sys.executable),
            handler=declaration.handler,
            environment={**aws.environment(), **function_environment},
            timeout_s=declaration.timeout_s,
            memory_mb=declaration.memory_mb,
            log_file=tmp_path / f"rie-{len(started)}.log",
        )
        started.append(emulator)
        return emulator.start()

    try:
        yield start
    finally:
        for emulator in started:
            with suppress(Exception):
                emulator.stop()


@pytest.fixture
def terraform_environment(
    declaration: ProducerDeclaration, aws: AwsStandIn, unprefixed_topics: str, lambda_database: str
) -> dict[str, str]:
    return local_environment(declaration, aws, unprefixed_topics, lambda_database)


@dataclass
class ProducerApi:
    emulator: LambdaEmulator
    url: str


@pytest.fixture
def producer_api(
    start_emulator: StartEmulator,
    terraform_environment: dict[str, str],
    declaration: ProducerDeclaration,
) -> Iterator[ProducerApi]:
    """The producer zip under the emulator with Terraform's environment, behind the HTTP API."""
    emulator = start_emulator(terraform_environment)
    with ExitStack() as stack:
        url = stack.enter_context(
            http_api(RouteTable(declaration.routes), lambda event: emulator.invoke(event)[0])
        )
        yield ProducerApi(emulator, url)
