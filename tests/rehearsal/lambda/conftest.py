"""Fixtures of the Lambda rehearsal: the zip, moto in server mode, the emulator, the HTTP API."""

from __future__ import annotations

import json
import platform
import secrets
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import pytest
from confluent_kafka.admin import AdminClient

from dpp_ops.ports import free_port
from dpp_ops.topic_admin import apply_topics
from dpp_producer.lambda_package import PackageReport
from dpp_shared.topics import declared_topics
from tests.rehearsal.podman import BUILD_BASE_IMAGES, Podman

from .emulator import LambdaEmulator, RuntimeImage, rie_binary, runtime_directory
from .gateway import RouteTable, http_api
from .terraform import ProducerDeclaration, producer_declaration

REPO = Path(__file__).resolve().parents[3]
REGION = "eu-west-1"
# The runtimes whose Python this machine lacks, by their stand-in image
# (infra/containers/build-base-images.sh). Debian 13 has python3.13 only, so python3.12 has none.
RUNTIME_IMAGES = {"python3.13": "public.ecr.aws/lambda/python:3.13"}
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


@dataclass(frozen=True)
class LambdaRuntime:
    """A zip built by `dpp producer package` for one runtime, unzipped like /var/task, and where
    it runs: on this interpreter when it is the runtime's version, else in the stand-in image."""

    runtime: str  # e.g. python3.13
    task_dir: Path
    report: PackageReport
    container: RuntimeImage | None


LambdaRuntimes = Callable[[str], LambdaRuntime]


def _this_python() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="session")
def lambda_runtimes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> LambdaRuntimes:
    """Builds (once per runtime and session) the zip for a runtime and finds where it runs."""
    built: dict[str, LambdaRuntime] = {}

    def runtime_for(runtime: str) -> LambdaRuntime:
        if runtime in built:
            return built[runtime]
        from dpp_producer.lambda_package import LambdaTarget, build_lambda_zip

        container = None
        compile_with = None
        if runtime != _this_python():
            if runtime not in RUNTIME_IMAGES:
                pytest.fail(
                    f"{runtime} has no stand-in image here (this interpreter is {_this_python()}; "
                    f"stand-ins: {', '.join(RUNTIME_IMAGES)}), so its zip cannot be rehearsed"
                )
            podman: Podman = request.getfixturevalue("podman")  # skips, saying why, without it
            build = subprocess.run(
                ["bash", str(BUILD_BASE_IMAGES), "lambda"],
                env=dict(podman.env), capture_output=True, text=True, timeout=900, check=False,
            )  # fmt: skip
            assert build.returncode == 0, f"build-base-images.sh lambda:\n{build.stderr[-4000:]}"
            python = runtime
            container = RuntimeImage(RUNTIME_IMAGES[runtime], python, podman.env)

            def compile_with(staging: Path, arguments: list[str]) -> None:
                # The runtime's own interpreter writes the zip's bytecode, as
                # `dpp producer package` does with a local Python of that version.
                podman.run(
                    "run", "--rm", "--network", "none", "--volume", f"{staging}:{staging}",
                    RUNTIME_IMAGES[runtime], python, "-m", "compileall", *arguments,
                    timeout_s=600,
                )  # fmt: skip

        root = tmp_path_factory.mktemp(f"lambda-{runtime}")
        report = build_lambda_zip(
            root / "producer-lambda.zip", target=LambdaTarget(runtime), compile_with=compile_with
        )
        task = root / "task"
        with zipfile.ZipFile(report.path) as archive:
            archive.extractall(task)
        built[runtime] = LambdaRuntime(runtime, task, report, container)
        return built[runtime]

    return runtime_for


@pytest.fixture(scope="session")
def declared_lambda(
    declaration: ProducerDeclaration, lambda_runtimes: LambdaRuntimes
) -> LambdaRuntime:
    """The zip for the runtime Terraform declares, on that runtime."""
    return lambda_runtimes(declaration.runtime)


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


class StartEmulator(Protocol):
    def __call__(
        self, function_environment: dict[str, str], runtime: LambdaRuntime | None = None
    ) -> LambdaEmulator: ...


@pytest.fixture
def start_emulator(
    rie: Path,
    declaration: ProducerDeclaration,
    lambda_runtimes: LambdaRuntimes,
    lambda_runtime_dir: Path,
    aws: AwsStandIn,
    tmp_path: Path,
) -> Iterator[StartEmulator]:
    """Starts execution environments with a given function environment, on the declared
    runtime unless told otherwise; stops them after."""
    started: list[LambdaEmulator] = []

    def start(
        function_environment: dict[str, str], runtime: LambdaRuntime | None = None
    ) -> LambdaEmulator:
        runtime = runtime or lambda_runtimes(declaration.runtime)
        emulator = LambdaEmulator(
            task_dir=runtime.task_dir,
            runtime_dir=lambda_runtime_dir,
            container=runtime.container,
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
