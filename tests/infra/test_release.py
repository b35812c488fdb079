"""Canary, promote, rollback and post-deploy verification of deploy-serverless.sh.

The script runs against stateful stand-ins for `terraform` and `aws` (Lambda alias, versions,
alarms, ECS service and task definitions kept in a JSON file, so the tests check the state a
release leaves behind, not only the calls) and, for verification, against a real HTTP server on
loopback that plays the producer API and checks the deploy-time token with the producer's own
`authenticate`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dpp_producer.auth import authenticate
from tests.infra.test_scripts import DEPLOY, ENVIRONMENT, SYSTEM_TOOLS
from tests.infra.test_structure import blocks, load, resources, unquote
from tests.infra.toolchain import ENVIRONMENTS, INFRA, MODULES

NAME = "dev-dev02-dpp"
PRODUCER = f"{NAME}-producer"
BACKEND = f"{NAME}-api"
TASKDEF = "arn:aws:ecs:us-east-1:123456789012:task-definition/"
JWT_SECRET = "deploy-verify-test-secret-0123456789abcdef"

# Stand-in for terraform and aws with state: aliases, versions, alarms, the worker service.
STAND_IN = r"""
import json, os, sys
from pathlib import Path
tool, args = sys.argv[1], sys.argv[2:]
with open(os.environ["STANDIN_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({"tool": tool, "args": args}) + "\n")
if tool == "aws" and args[:1] == ["--region"]:
    args = args[2:]
state_path = Path(os.environ["STANDIN_STATE_FILE"])
state = json.loads(state_path.read_text())
def opt(name):
    return args[args.index(name) + 1] if name in args else None
def save():
    state_path.write_text(json.dumps(state))
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
TASKDEF = "arn:aws:ecs:us-east-1:123456789012:task-definition/"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
NETWORK = {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}
outputs = {
    "consumer_ecr_repository_url": ECR + "/dev-dev02-dpp-consumer",
    "consumer_cluster_name": "dev-dev02-dpp-consumer",
    "consumer_service_name": "dev-dev02-dpp-consumer",
    "topics_task_definition_arn": TASKDEF + "dev-dev02-dpp-consumer-topics:1",
    "next_public_api_url": "https://api-dev02.hibiji.com",
    "api_endpoint": os.environ.get("STANDIN_API_ENDPOINT", "http://127.0.0.1:9"),
    "website_url": "https://dev02.hibiji.com",
    "website_bucket": "dev-dev02-dpp-website",
    "cloudfront_distribution_id": "E2EXAMPLE",
    "backend_function_name": "dev-dev02-dpp-api",
    "producer_function_name": "dev-dev02-dpp-producer",
    "jwt_secret_arn": SECRET + "dev-dev02-dpp-jwt-secret",
}
if tool == "terraform":
    rest = [a for a in args if not a.startswith("-chdir=")]
    if rest[:2] == ["output", "-raw"]:
        print(outputs[rest[2]], end="")
    elif rest[:2] == ["output", "-json"]:
        print(json.dumps(NETWORK))
    elif rest[:2] == ["workspace", "list"]:
        print("* default\n  dev02")
    sys.exit(0)
if tool != "aws":
    sys.exit(0)
command = args[:2]
function = opt("--function-name")
if command == ["sts", "get-caller-identity"]:
    print("123456789012 arn:aws:iam::123456789012:user/ci AIDEXAMPLE")
elif command == ["ecr", "describe-images"]:
    sys.exit(0)
elif command == ["ecs", "run-task"]:
    print("arn:aws:ecs:us-east-1:123456789012:task/dev-dev02-dpp-consumer/abc")
elif command == ["ecs", "describe-tasks"]:
    print("0")
elif command == ["lambda", "get-alias"]:
    alias = state["functions"][function]["alias"]
    if opt("--query") == "FunctionVersion":
        print(alias["version"])
    else:
        print(json.dumps(alias["weights"] or None))
elif command == ["lambda", "publish-version"]:
    fn = state["functions"][function]
    if fn.get("unpublished"):  # $LATEST changed since the last version (terraform apply)
        fn["versions"].append(str(max(int(v) for v in fn["versions"]) + 1))
        fn["unpublished"] = False
        save()
    print(fn["versions"][-1])
elif command == ["lambda", "list-versions-by-function"]:
    print("\t".join(["$LATEST", *state["functions"][function]["versions"]]))
elif command == ["lambda", "update-alias"]:
    alias = state["functions"][function]["alias"]
    alias["version"] = opt("--function-version")
    alias["weights"] = json.loads(opt("--routing-config"))["AdditionalVersionWeights"]
    save()
    print("arn:aws:lambda:us-east-1:123456789012:function:%s:live" % function)
elif command == ["cloudwatch", "describe-alarms"]:
    state["alarm_looks"] += 1
    save()
    at = int(os.environ.get("STANDIN_ALARM_AT", "0"))
    names = args[args.index("--alarm-names") + 1:args.index("--query")]
    for name in names:
        firing = at and state["alarm_looks"] >= at and name.endswith("lambda-errors")
        print("%s\t%s" % (name, "ALARM" if firing else "OK"))
elif command == ["cloudwatch", "list-metrics"]:
    print("dpp.demo.echo\tdpp.persona.embedding")
elif command == ["cloudwatch", "get-metric-statistics"]:
    print(os.environ.get("STANDIN_LAG", "2.0"))
elif command == ["ecs", "describe-services"]:
    if "runningCount" in opt("--query"):
        print(os.environ.get("STANDIN_RUNNING", "1"))
    else:
        print(state["service_task_definition"])
elif command == ["ecs", "list-task-definitions"]:
    print("\t".join(state["task_definitions"]))
elif command == ["ecs", "update-service"] and opt("--task-definition"):
    state["service_task_definition"] = opt("--task-definition")
    save()
    print(opt("--task-definition"))
elif command == ["secretsmanager", "get-secret-value"]:
    print(os.environ.get("STANDIN_JWT_SECRET", ""))
elif command == ["apigatewayv2", "get-apis"]:
    print(os.environ.get("STANDIN_API_ENDPOINT", "None"))
"""

MUTATING = {
    ("lambda", "update-alias"),
    ("lambda", "publish-version"),
    ("ecs", "update-service"),
    ("ecs", "wait"),
}


def _initial_state() -> dict[str, Any]:
    return {
        "functions": {
            PRODUCER: {"alias": {"version": "6", "weights": {}}, "versions": ["5", "6"]},
            BACKEND: {"alias": {"version": "3", "weights": {}}, "versions": ["2", "3"]},
        },
        "alarm_looks": 0,
        "service_task_definition": f"{TASKDEF}{NAME}-consumer:4",
        # Newest first, like --sort DESC; the -topics and -lag families share the prefix.
        "task_definitions": [
            f"{TASKDEF}{NAME}-consumer-topics:9",
            f"{TASKDEF}{NAME}-consumer-lag:8",
            f"{TASKDEF}{NAME}-consumer:4",
            f"{TASKDEF}{NAME}-consumer:3",
            f"{TASKDEF}{NAME}-consumer:2",
        ],
    }


@dataclass
class Release:
    """A sandbox repository with the deploy script and stateful stand-ins on a closed PATH."""

    root: Path
    bin: Path
    log: Path
    state_file: Path

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": str(self.bin),
            "HOME": str(self.root),
            "STANDIN_LOG": str(self.log),
            "STANDIN_STATE_FILE": str(self.state_file),
            "IMAGE_TAG": "abc123",
            "HEALTH_TIMEOUT": "5",
            "CANARY_POLL_SECONDS": "0.2",
            "VERIFY_TIMEOUT": "5",
        }
        env.update(extra)
        return subprocess.run(
            [str(self.root / "infra" / "scripts" / DEPLOY.name), "-s", "dev02", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    @property
    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.state_file.read_text(encoding="utf-8")))

    def update(self, **changes: Any) -> None:
        state = self.state
        state.update(changes)
        self.state_file.write_text(json.dumps(state), encoding="utf-8")

    def aws(self) -> list[list[str]]:
        """aws calls without the leading `--region R`."""
        if not self.log.exists():
            return []
        records = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]
        return [
            r["args"][2:] if r["args"][:1] == ["--region"] else r["args"]
            for r in records
            if r["tool"] == "aws"
        ]

    def alias_updates(self, function: str) -> list[tuple[str, dict[str, float]]]:
        return [
            (
                call[call.index("--function-version") + 1],
                json.loads(call[call.index("--routing-config") + 1])["AdditionalVersionWeights"],
            )
            for call in self.aws()
            if call[:2] == ["lambda", "update-alias"] and function in call
        ]

    def mutations(self) -> list[list[str]]:
        return [call for call in self.aws() if tuple(call[:2]) in MUTATING]


@pytest.fixture
def release(tmp_path: Path) -> Release:
    root = tmp_path / "repo"
    (root / "infra" / "scripts").mkdir(parents=True)
    (root / "infra" / "environments" / "dev").mkdir(parents=True)
    shutil.copy2(ENVIRONMENT / "backend.tf", root / "infra" / "environments" / "dev" / "backend.tf")
    shutil.copy2(DEPLOY, root / "infra" / "scripts" / DEPLOY.name)
    (root / "dist").mkdir()
    for artifact in ("backend-lambda.zip", "producer-lambda.zip"):
        (root / "dist" / artifact).write_bytes(b"PK\x05\x06" + b"\0" * 18)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = tmp_path / "stand_in.py"
    program.write_text(STAND_IN, encoding="utf-8")
    for tool in ["terraform", "aws", "curl", "docker"]:
        wrapper = bin_dir / tool
        wrapper.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{program}" {tool} "$@"\n', encoding="utf-8"
        )
        wrapper.chmod(0o755)
    for tool in [*SYSTEM_TOOLS, "awk", "paste", "date", "python3"]:
        found = shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(_initial_state()), encoding="utf-8")
    return Release(root=root, bin=bin_dir, log=tmp_path / "calls.jsonl", state_file=state_file)


def _new_code(release: Release) -> None:
    """What terraform apply does to both functions: new code in $LATEST, not yet published."""
    state = release.state
    for function in state["functions"].values():
        function["unpublished"] = True
    release.update(functions=state["functions"])


DEPLOY_ARGS = ("--skip-build", "--skip-frontend", "--no-verify")

# ---- canary and promote -------------------------------------------------------------------


def test_canary_shifts_traffic_watches_alarms_then_promotes(release: Release) -> None:
    _new_code(release)
    result = release.run(*DEPLOY_ARGS, "--canary", "10", "--bake", "0")
    assert result.returncode == 0, result.stderr

    # The canary: alias stays on 6 with 10 % on 7; then promoted: alias on 7, no routing.
    assert release.alias_updates(PRODUCER) == [("6", {"7": 0.1}), ("7", {})]
    assert release.state["functions"][PRODUCER]["alias"] == {"version": "7", "weights": {}}
    # The backend moves at once, without routing.
    assert release.alias_updates(BACKEND) == [("4", {})]
    aws = release.aws()
    publish = [c for c in aws if c[:2] == ["lambda", "publish-version"]]
    assert [c[c.index("--function-name") + 1] for c in publish] == [BACKEND, PRODUCER]
    looks = [i for i, c in enumerate(aws) if c[:2] == ["cloudwatch", "describe-alarms"]]
    assert len(looks) == 2  # before shifting traffic, then once in a zero bake
    assert f"{PRODUCER}-lambda-errors" in aws[looks[0]]
    assert f"{PRODUCER}-lambda-duration-p95" in aws[looks[0]]
    shifts = [i for i, c in enumerate(aws) if c[:2] == ["lambda", "update-alias"] and PRODUCER in c]
    assert looks[0] < shifts[0] < looks[1] < shifts[1]
    for text in ("10% of alias live to version 7", "alarms OK", "promoting version 7"):
        assert text in result.stderr


def test_canary_rolls_back_by_itself_when_an_alarm_fires_during_the_bake(
    release: Release,
) -> None:
    _new_code(release)
    # Look 1 (before the shift) and 2 are OK; the error alarm fires on look 3, mid-bake.
    result = release.run(*DEPLOY_ARGS, "--canary", "25", "--bake", "1", STANDIN_ALARM_AT="3")
    assert result.returncode != 0
    assert release.alias_updates(PRODUCER) == [("6", {"7": 0.25}), ("6", {})]
    assert release.state["functions"][PRODUCER]["alias"] == {"version": "6", "weights": {}}
    assert release.state["alarm_looks"] == 3
    assert f"alarm {PRODUCER}-lambda-errors fired; rolling back" in result.stderr
    assert "rolled back" in result.stderr and f"/aws/lambda/{PRODUCER}" in result.stderr


def test_canary_does_not_start_while_an_alarm_already_fires(release: Release) -> None:
    _new_code(release)
    result = release.run(*DEPLOY_ARGS, "--canary", "10", STANDIN_ALARM_AT="1")
    assert result.returncode != 0
    assert "alarms already firing before the canary" in result.stderr
    assert release.alias_updates(PRODUCER) == []
    assert release.state["functions"][PRODUCER]["alias"]["version"] == "6"


def test_without_canary_the_aliases_move_at_once(release: Release) -> None:
    _new_code(release)
    result = release.run(*DEPLOY_ARGS)
    assert result.returncode == 0, result.stderr
    assert release.alias_updates(PRODUCER) == [("7", {})]
    assert not any(c[:2] == ["cloudwatch", "describe-alarms"] for c in release.aws())


def test_unchanged_code_releases_nothing(release: Release) -> None:
    result = release.run(*DEPLOY_ARGS, "--canary", "10")
    assert result.returncode == 0, result.stderr
    assert release.alias_updates(PRODUCER) == [] and release.alias_updates(BACKEND) == []
    assert "already on version 6; nothing to release" in result.stderr


@pytest.mark.parametrize("percent", ["0", "100", "ten", "5.5"])
def test_canary_percent_is_validated(release: Release, percent: str) -> None:
    result = release.run(*DEPLOY_ARGS, "--canary", percent)
    assert result.returncode != 0
    assert "--canary needs a whole percentage from 1 to 99" in result.stderr
    assert release.aws() == []


# ---- manual rollback -------------------------------------------------------------------------


def test_rollback_moves_the_alias_and_the_service_back_in_one_command(release: Release) -> None:
    functions = release.state["functions"]
    functions[PRODUCER] = {"alias": {"version": "7", "weights": {}}, "versions": ["5", "6", "7"]}
    release.update(functions=functions)
    result = release.run("--rollback")
    assert result.returncode == 0, result.stderr

    assert release.state["functions"][PRODUCER]["alias"] == {"version": "6", "weights": {}}
    assert release.state["service_task_definition"] == f"{TASKDEF}{NAME}-consumer:3"
    update = next(c for c in release.aws() if c[:2] == ["ecs", "update-service"])
    assert update[update.index("--cluster") + 1] == f"{NAME}-consumer"
    assert update[update.index("--service") + 1] == f"{NAME}-consumer"
    assert next(c[:3] for c in release.aws() if c[:2] == ["ecs", "wait"]) == [
        "ecs",
        "wait",
        "services-stable",
    ]
    assert "alias live version 7 -> 6" in result.stderr
    assert f"{NAME}-consumer:4 -> {NAME}-consumer:3" in result.stderr
    # An incident rollback needs neither terraform nor a build.
    assert not (release.log.read_text(encoding="utf-8").count('"tool": "terraform"'))


def test_rollback_during_a_canary_removes_the_routing(release: Release) -> None:
    functions = release.state["functions"]
    functions[PRODUCER] = {
        "alias": {"version": "6", "weights": {"7": 0.1}},
        "versions": ["5", "6", "7"],
    }
    release.update(functions=functions)
    result = release.run("--rollback")
    assert result.returncode == 0, result.stderr
    assert release.state["functions"][PRODUCER]["alias"] == {"version": "6", "weights": {}}
    assert "canary in flight" in result.stderr


def test_rollback_without_an_earlier_revision_is_a_clear_error(release: Release) -> None:
    release.update(task_definitions=[f"{TASKDEF}{NAME}-consumer:4"])
    result = release.run("--rollback")
    assert result.returncode != 0
    assert f"no ACTIVE task definition of {NAME}-consumer before revision 4" in result.stderr


# ---- dry runs ---------------------------------------------------------------------------------


def test_rollback_dry_run_prints_every_step_and_changes_nothing(release: Release) -> None:
    functions = release.state["functions"]
    functions[PRODUCER] = {"alias": {"version": "7", "weights": {}}, "versions": ["5", "6", "7"]}
    release.update(functions=functions)
    before = release.state
    result = release.run("--rollback", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert release.mutations() == []
    assert release.state == before
    assert "dry run: would rollback " + PRODUCER + ": alias live version 7 -> 6" in result.stderr
    assert "--function-version 6" in result.stderr
    assert f"would rollback {NAME}-consumer: task definition" in result.stderr
    assert "would rollback " + NAME + "-consumer: waiting for the service" in result.stderr


def test_canary_dry_run_plans_and_prints_the_release_without_doing_it(release: Release) -> None:
    _new_code(release)
    result = release.run("--skip-build", "--skip-frontend", "--dry-run", "--canary", "10")
    assert result.returncode == 0, result.stderr
    assert release.mutations() == []
    assert not any(c[0] == "lambda" for c in release.aws())
    assert f"would publish a version of {PRODUCER}, send 10% of alias live" in result.stderr
    assert "then promote it or roll back" in result.stderr
    assert "would verify: post demo.echo.requested.v1" in result.stderr


# ---- post-deploy verification -----------------------------------------------------------------


@dataclass
class FakeApi:
    """The producer API on loopback: accepts events with a valid token and answers jobs as the
    scenario says. Tokens are checked with the producer's own `authenticate`."""

    job: dict[str, Any]
    succeed_after: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    principals: list[Any] = field(default_factory=list)
    polls: int = 0
    url: str = ""


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi(job={"status": "queued"})

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _principal(self) -> Any:
            try:
                return authenticate(self.headers.get("Authorization"), JWT_SECRET)
            except Exception:
                return None

        def do_POST(self) -> None:
            principal = self._principal()
            if principal is None or not principal.may_publish("events:demo"):
                self._answer(401, {"title": "Unauthorized"})
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.events.append(body)
            fake.principals.append(principal)
            event_id = "01JDEPLOYVERIFY000000000001"
            self._answer(
                202,
                {
                    "id": event_id,
                    "type": body["type"],
                    "topic": "dpp.demo.echo",
                    "key": "k",
                    "partition": 0,
                    "offset": 1,
                    "job": f"/v1/jobs/{event_id}",
                },
            )

        def do_GET(self) -> None:
            if self._principal() is None:
                self._answer(401, {"title": "Unauthorized"})
                return
            fake.polls += 1
            job = dict(fake.job)
            if fake.succeed_after is not None and fake.polls >= fake.succeed_after:
                job = {"status": "succeeded", "result": {"message": "post-deploy verification"}}
            self._answer(200, {"id": self.path.rsplit("/", 1)[-1], **job})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _verify(release: Release, api: FakeApi, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"STANDIN_API_ENDPOINT": api.url, "STANDIN_JWT_SECRET": JWT_SECRET, **extra}
    return release.run("--verify-only", **env)


def test_verify_passes_when_the_event_reaches_succeeded(release: Release, api: FakeApi) -> None:
    api.succeed_after = 2
    result = _verify(release, api)
    assert result.returncode == 0, result.stderr
    assert [e["type"] for e in api.events] == ["demo.echo.requested.v1"]
    assert api.principals[0].subject == "deploy-verify"
    assert api.polls >= 2
    aws = release.aws()
    secret = next(c for c in aws if c[:2] == ["secretsmanager", "get-secret-value"])
    assert secret[secret.index("--secret-id") + 1] == f"{NAME}-jwt-secret"
    stats = [c for c in aws if c[:2] == ["cloudwatch", "get-metric-statistics"]]
    assert len(stats) == 2 and all("DPP/Events" in c and "ConsumerLagMessages" in c for c in stats)
    assert "Name=Topic,Value=dpp.demo.echo" in stats[0]
    assert "the event pair works" in result.stderr
    assert release.mutations() == []


def test_verify_fails_a_deploy_whose_worker_cannot_reach_its_database(
    release: Release, api: FakeApi
) -> None:
    api.job = {
        "status": "dead",
        "attempts": 4,
        "error": 'psycopg.OperationalError: connection to server at "db.internal" (10.0.1.5), '
        "port 5432 failed: could not connect",
    }
    result = _verify(release, api)
    assert result.returncode != 0
    assert "verify FAILED" in result.stderr
    assert "the worker cannot reach its database" in result.stderr
    assert "DATABASE_SECRET_ARN" in result.stderr


def test_verify_fails_when_the_job_stays_queued(release: Release, api: FakeApi) -> None:
    """A worker that cannot write to its database leaves the job queued: the deadline names it."""
    result = _verify(release, api, VERIFY_TIMEOUT="2")
    assert result.returncode != 0
    assert "is queued after 2s" in result.stderr
    assert "database" in result.stderr


def test_verify_fails_without_running_workers_or_with_high_lag(
    release: Release, api: FakeApi
) -> None:
    api.succeed_after = 1
    result = _verify(release, api, STANDIN_RUNNING="0", STANDIN_LAG="5000.0")
    assert result.returncode != 0
    assert f"no worker task running in {NAME}-consumer/{NAME}-consumer" in result.stderr
    assert "dpp.demo.echo is 5000 messages (bound 1000)" in result.stderr


def test_verify_fails_when_no_lag_is_published(release: Release, api: FakeApi) -> None:
    api.succeed_after = 1
    result = _verify(release, api, STANDIN_LAG="None")
    assert result.returncode != 0
    assert "no ConsumerLagMessages datapoint" in result.stderr
    assert "lag-publisher" in result.stderr


def test_verify_fails_on_a_refused_token(release: Release, api: FakeApi) -> None:
    result = _verify(release, api, STANDIN_JWT_SECRET="some-other-secret")
    assert result.returncode != 0
    assert "answered 401" in result.stderr and "JWT_SECRET_ARN" in result.stderr


def test_deploy_runs_the_verification_after_the_release(release: Release, api: FakeApi) -> None:
    _new_code(release)
    api.succeed_after = 1
    result = release.run(
        "--skip-build",
        "--skip-frontend",
        STANDIN_API_ENDPOINT=api.url,
        STANDIN_JWT_SECRET=JWT_SECRET,
    )
    assert result.returncode == 0, result.stderr
    assert len(api.events) == 1
    aws = release.aws()
    released = max(i for i, c in enumerate(aws) if c[:2] == ["lambda", "update-alias"])
    secret = next(i for i, c in enumerate(aws) if c[:2] == ["secretsmanager", "get-secret-value"])
    assert released < secret
    # The deploy reads the secret by the ARN terraform outputs.
    assert aws[secret][aws[secret].index("--secret-id") + 1].endswith(f"{NAME}-jwt-secret")


def test_a_failed_verification_fails_the_deploy(release: Release, api: FakeApi) -> None:
    api.job = {"status": "dead", "error": "sqlalchemy.exc.OperationalError: database unreachable"}
    result = release.run(
        "--skip-build",
        "--skip-frontend",
        STANDIN_API_ENDPOINT=api.url,
        STANDIN_JWT_SECRET=JWT_SECRET,
    )
    assert result.returncode != 0
    assert "the worker cannot reach its database" in result.stderr
    assert "deployed dev-dev02" not in result.stderr


# ---- Terraform agrees with the script -----------------------------------------------------


def test_terraform_leaves_the_alias_version_and_routing_to_the_script() -> None:
    alias = next(
        body
        for rtype, name, body in resources(MODULES / "lambda-function" / "main.tf")
        if rtype == "aws_lambda_alias"
    )
    ignored = {unquote(v).strip("${}") for v in alias["lifecycle"][0]["ignore_changes"]}
    assert ignored == {"function_version", "routing_config"}
    variables = blocks(MODULES / "lambda-function" / "variables.tf", "variable")
    assert unquote(variables["alias_name"]["default"]) == "live"
    script = DEPLOY.read_text(encoding="utf-8")
    assert 'ALIAS="live"' in script


def test_worker_service_has_the_circuit_breaker_and_keeps_old_revisions() -> None:
    found = {
        (rtype, name): body
        for rtype, name, body in resources(MODULES / "event-consumer" / "main.tf")
    }
    breaker = found[("aws_ecs_service", "this")]["deployment_circuit_breaker"][0]
    assert (breaker["enable"], breaker["rollback"]) == (True, True)
    assert found[("aws_ecs_task_definition", "worker")]["skip_destroy"] is True


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_names_the_script_derives_match_the_environment(environment: str) -> None:
    """--rollback and --verify-only work without terraform: the names must be the real ones."""
    main = ENVIRONMENTS / environment / "main.tf"
    text = main.read_text(encoding="utf-8")
    env_locals = load(main)["locals"][0]
    assert unquote(env_locals["name"]) == "${var.environment}-${var.sub_environment}-dpp"
    for declared in (
        'function_name = "${local.name}-producer"',
        'function_name = "${local.name}-api"',
        'name             = "${local.name}-consumer"',
        'name                    = "${local.name}-jwt-secret"',
        'name          = "${local.name}-http-api"',
    ):
        assert declared in text, declared
    assert unquote(env_locals["consumer_group"]) == "dpp-ml-workers"
    monitoring = blocks(main, "module")["monitoring"]
    assert "producer = module.producer.function_name" in str(monitoring["lambda_functions"]) or (
        monitoring["lambda_functions"]["producer"] == "${module.producer.function_name}"
    )
    alarms = (MODULES / "monitoring" / "main.tf").read_text(encoding="utf-8")
    assert 'alarm_name          = "${var.name}-${each.key}-lambda-errors"' in alarms
    assert 'alarm_name          = "${var.name}-${each.key}-lambda-duration-p95"' in alarms
    script = DEPLOY.read_text(encoding="utf-8")
    assert 'NAME="${ENVIRONMENT}-${SUB_ENVIRONMENT}-dpp"' in script
    assert 'CONSUMER_GROUP="dpp-ml-workers"' in script


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_verification_topic_is_granted_to_producer_and_worker(environment: str) -> None:
    """The verification event goes to dpp.demo.echo: the producer must be allowed to write it,
    the worker to read it, and the lag publisher to report it."""
    from dpp_shared.events.catalog import REGISTRY

    topic = REGISTRY.get("demo.echo.requested.v1").topic
    env_locals = load(ENVIRONMENTS / environment / "main.tf")["locals"][0]
    assert topic in [unquote(t) for t in env_locals["worker_topics"]]
    assert topic in [unquote(t) for t in env_locals["main_topics"]]


def test_the_guides_health_url_is_a_backend_route_on_the_custom_domain() -> None:
    """`curl https://api-dev01.hibiji.com/health`: GET /health is a backend route, the custom
    domain is api-<sub_environment>.<domain> and maps the API at its root."""
    contract = json.loads((INFRA / "contract" / "components.json").read_text(encoding="utf-8"))
    assert "GET /health" in contract["components"]["backend"]["routes"]
    assert "GET /health" not in contract["components"]["producer"]["routes"]
    main = load(ENVIRONMENTS / "dev" / "main.tf")
    assert (
        unquote(main["locals"][0]["api_domain"]) == "api-${var.sub_environment}.${var.domain_name}"
    )
    tfvars = (ENVIRONMENTS / "dev" / "terraform.tfvars").read_text(encoding="utf-8")
    assert 'domain_name     = "hibiji.com"' in tfvars
    api = blocks(ENVIRONMENTS / "dev" / "main.tf", "module")["api"]
    assert api["integrations"]["backend"]["route_keys"] == "${local.contract.backend.routes}"
    mapping = next(
        body
        for rtype, _, body in resources(MODULES / "api-gateway" / "main.tf")
        if rtype == "aws_apigatewayv2_api_mapping"
    )
    assert "api_mapping_key" not in mapping  # mapped at the root: /health, not /<key>/health


def test_help_documents_canary_rollback_and_verification(release: Release) -> None:
    result = release.run("--help")
    assert result.returncode == 0
    for flag in (
        "--canary PERCENT",
        "--bake MINUTES",
        "--rollback",
        "--verify-only",
        "--no-verify",
    ):
        assert flag in result.stdout
    docs = (INFRA.parent / "docs" / "infra.md").read_text(encoding="utf-8")
    for heading in ("## Canary and rollback", "## Post-deploy verification"):
        assert heading in docs
