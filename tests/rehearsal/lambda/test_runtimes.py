"""The producer zip on each Python runtime it supports, side by side: python3.11 (Amazon Linux 2,
confluent-kafka pinned to 2.3.0) and python3.13 (Amazon Linux 2023, the locked confluent-kafka),
each under the emulator with Terraform's environment, through the HTTP API's route matcher."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from dpp_producer.auth import mint_token
from dpp_producer.lambda_package import GLIBC_226_PINS, RUNTIME_GLIBC
from tests.infra import test_contract as contract
from tests.infra.toolchain import ENVIRONMENTS, MODULES

from .conftest import AwsStandIn, LambdaRuntime, LambdaRuntimes, StartEmulator
from .gateway import RouteTable, http_api
from .terraform import ProducerDeclaration

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Timings:
    """One execution environment's init and its first two requests, in milliseconds."""

    runtime: str
    init_ms: float
    first_post_ms: float  # the cold request: the Kafka producer connects here
    first_ack_ms: float  # of which the broker's first acknowledgement (the AckLatency metric)
    get_ms: float
    second_post_ms: float


def _confluent_kafka(runtime: LambdaRuntime) -> str:
    found = sorted(runtime.task_dir.glob("confluent_kafka-*.dist-info"))
    assert len(found) == 1, found
    return found[0].name.removeprefix("confluent_kafka-").removesuffix(".dist-info")


def _serve_one(
    runtime: LambdaRuntime,
    start_emulator: StartEmulator,
    environment: dict[str, str],
    declaration: ProducerDeclaration,
    aws: AwsStandIn,
) -> Timings:
    """POST an event, GET its job, POST another; the emulator's REPORT lines time each one."""
    emulator = start_emulator(environment, runtime)
    ids: list[str] = []

    def invoke(event: dict[str, object]) -> dict[str, object]:
        result, request_id = emulator.invoke(event)
        ids.append(request_id)
        return result

    token = mint_token(aws.jwt_secret, subject="svc-runtimes", scope="events:*")
    auth = {"Authorization": f"Bearer {token}"}
    with (
        http_api(RouteTable(declaration.routes), invoke) as url,
        httpx.Client(base_url=url, timeout=90) as http,
    ):
        answers = []
        for session in ("first", "second"):
            event = {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "type": "demo.echo.requested.v1",
                "source": "urn:dpp:backend:runtimes",
                "data": {"session_id": f"{runtime.runtime}-{session}", "message": "hi"},
            }
            posted = http.post("/v1/events", json=event, headers=auth)
            assert posted.status_code == 202, (
                runtime.runtime,
                posted.text,
                emulator.logs()[-3000:],
            )
            answers.append(posted)
            if session == "first":
                job = http.get(posted.json()["job"], headers=auth)
                assert job.status_code == 200, (runtime.runtime, job.text)
                assert job.json()["status"] == "queued"
    reports = [emulator.report(request_id) for request_id in ids]
    acks = [
        line["AckLatency"][0] for line in emulator.invocation_logs(ids[0]) if "AckLatency" in line
    ]
    assert acks, emulator.invocation_logs(ids[0])
    return Timings(
        runtime.runtime,
        emulator.init_duration_ms(),
        reports[0].duration_ms,
        float(acks[0]),
        reports[1].duration_ms,
        reports[2].duration_ms,
    )


def test_every_environment_deploys_the_runtime_the_zip_is_built_for(
    declaration: ProducerDeclaration,
) -> None:
    """dev and prod take the producer's runtime from the contract, which `dpp producer package`
    reads too; the module accepts it and the packager knows its glibc."""
    from dpp_producer.lambda_package import declared_runtime

    for environment in ("dev", "prod"):
        modules = contract.labelled(ENVIRONMENTS / environment / "main.tf", "module")
        assert modules["producer"]["runtime"] == "${local.contract.producer.runtime}", environment
    assert declaration.runtime == declared_runtime() == contract.contract()["producer"]["runtime"]
    assert declaration.runtime in RUNTIME_GLIBC
    variables = contract.labelled(MODULES / "lambda-function" / "variables.tf", "variable")
    condition = str(variables["runtime"]["validation"][0]["condition"])
    assert "python3" in condition and "(11|12|13)" in condition, condition


@pytest.mark.parametrize("runtime", ["python3.11", "python3.13"])
def test_each_zip_ships_the_wheels_its_runtime_loads(
    runtime: str, lambda_runtimes: LambdaRuntimes
) -> None:
    """python3.11's zip pins confluent-kafka for glibc 2.26; python3.13's ships the lock's, whose
    manylinux_2_28 wheel loads on Amazon Linux 2023 (glibc 2.34). Both ship bytecode."""
    built = lambda_runtimes(runtime)
    report = built.report
    assert report.wheel_glibc is not None and report.wheel_glibc <= RUNTIME_GLIBC[runtime]
    assert report.bytecode, f"{runtime}'s zip has no bytecode"
    assert any(p.suffix == ".pyc" for p in (built.task_dir / "dpp_producer").rglob("*.pyc"))
    pinned = GLIBC_226_PINS["confluent-kafka"].split("==")[1]
    if runtime == "python3.11":
        assert _confluent_kafka(built) == pinned
    else:
        assert _confluent_kafka(built) != pinned
        assert "confluent-kafka==2.3.0" not in report.requirements


def test_the_supported_runtimes_serve_the_api_side_by_side(
    declaration: ProducerDeclaration,
    lambda_runtimes: LambdaRuntimes,
    start_emulator: StartEmulator,
    terraform_environment: dict[str, str],
    aws: AwsStandIn,
) -> None:
    """The declared runtime and python3.11 both serve POST /v1/events and GET /v1/jobs/{id} with
    Terraform's environment; prints init and request durations (docs/infra.md quotes them).

    Two rounds, each starting a new execution environment per runtime: whichever runtime runs
    first also pays for the shared services' first use (tables, topic metadata, moto), so
    the second round is the one to compare."""
    runtimes = sorted({"python3.11", declaration.runtime})
    built = {runtime: lambda_runtimes(runtime) for runtime in runtimes}
    print()
    for round_ in ("first round", "second round"):
        for runtime in runtimes:
            started = time.monotonic()
            timing = _serve_one(
                built[runtime], start_emulator, terraform_environment, declaration, aws
            )
            assert time.monotonic() - started < 120
            where = "container" if built[runtime].container else "native"
            print(
                f"{round_}: {timing.runtime} ({where}, confluent-kafka "
                f"{_confluent_kafka(built[runtime])}): init {timing.init_ms:.0f} ms; "
                f"first POST {timing.first_post_ms:.0f} ms "
                f"(first ack {timing.first_ack_ms:.0f} ms); GET job {timing.get_ms:.0f} ms; "
                f"second POST {timing.second_post_ms:.0f} ms"
            )
