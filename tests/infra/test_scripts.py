"""Deploy and cleanup scripts run against recording stand-ins for terraform, aws and friends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.toolchain import INFRA

DEPLOY = INFRA / "scripts" / "deploy-serverless.sh"
ENVIRONMENT = INFRA / "environments" / "dev"
CLEANUP = INFRA / "scripts" / "serverless-migration-cleanup.sh"
SYSTEM_TOOLS = [
    "bash",
    "dirname",
    "mkdir",
    "git",
    "sleep",
    "cat",
    "basename",
    "env",
    "sed",
    "grep",
    "head",
    "mktemp",
    "cp",
    "rm",
]

# One stand-in program serves every faked tool: it records argv as a JSON line and answers
# the few queries the scripts make (terraform outputs and state, ECS task results).
STAND_IN = r"""
import json, os, sys
from pathlib import Path
tool = sys.argv[1]
args = sys.argv[2:]
if tool == "aws" and args[:1] == ["--region"]:
    args = args[2:]  # answer by subcommand; the recorded call keeps the region
with open(os.environ["STANDIN_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({"tool": tool, "args": sys.argv[2:], "cwd": os.getcwd()}) + "\n")
fail = os.environ.get("STANDIN_FAIL", "")
joined = " ".join(args)
if fail and fail in f"{tool} {joined}":
    sys.exit(3)
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
TASKDEF = "arn:aws:ecs:us-east-1:123456789012:task-definition/dev-dev02-dpp-consumer-topics:1"
NETWORK = {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}
outputs = {
    "consumer_ecr_repository_url": ECR + "/dev-dev02-dpp-consumer",
    "consumer_cluster_name": "dev-dev02-dpp-consumer",
    "consumer_service_name": "dev-dev02-dpp-consumer",
    "topics_task_definition_arn": TASKDEF,
    "next_public_api_url": "https://api-dev02.hibiji.com",
    "api_endpoint": "https://abc123.execute-api.us-east-1.amazonaws.com",
    "website_url": "https://dev02.hibiji.com",
    "website_bucket": "dev-dev02-dpp-website",
    "cloudfront_distribution_id": "E2EXAMPLE",
    "backend_function_name": "dev-dev02-dpp-api",
    "producer_function_name": "dev-dev02-dpp-producer",
    "jwt_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dev-dev02-dpp-jwt",
}
if tool == "terraform":
    rest = [a for a in args if not a.startswith("-chdir=")]
    if rest[:2] == ["output", "-raw"]:
        print(outputs[rest[2]], end="")
    elif rest[:2] == ["output", "-json"]:
        print(json.dumps(NETWORK))
    elif rest[:2] == ["state", "list"]:
        print(os.environ.get("STANDIN_STATE", ""))
    elif rest[:2] == ["workspace", "list"]:
        print(os.environ.get("STANDIN_WORKSPACES", "* default"))
elif tool == "aws":
    if args[:2] == ["ecs", "run-task"]:
        print("arn:aws:ecs:us-east-1:123456789012:task/dev-dev02-dpp-consumer/abc")
    elif args[:2] == ["ecs", "describe-tasks"]:
        print(os.environ.get("STANDIN_TOPICS_EXIT", "0"))
    elif args[:2] == ["ecr", "describe-images"]:
        sys.exit(0 if os.environ.get("STANDIN_IMAGE_EXISTS") else 254)
    elif args[:2] == ["ecr", "get-login-password"]:
        print("token")
    elif args[:2] == ["sts", "get-caller-identity"]:
        print("123456789012 arn:aws:iam::123456789012:user/ci AIDEXAMPLE")
elif tool == "docker" and "--password-stdin" in args:
    sys.stdin.read()  # like docker login: drain the pipe so the writer never sees EPIPE
elif tool == "uv" and "package" in args:
    Path("dist").mkdir(exist_ok=True)
    Path("dist/producer-lambda.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
"""


@dataclass
class Sandbox:
    """A throw-away repository layout with stand-in tools on a PATH that hides the real ones."""

    root: Path
    bin: Path
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": str(self.bin),
            "HOME": str(self.root),
            "STANDIN_LOG": str(self.log),
            "HEALTH_TIMEOUT": "5",
            "IMAGE_TAG": "abc123",
        }
        env.update(extra)
        return env

    def run(
        self, script: Path, *args: str, stdin: str | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        target = self.root / "infra" / "scripts" / script.name
        return subprocess.run(
            [str(target), *args],
            cwd=self.root,
            env=self.env(**extra),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def calls(self, tool: str | None = None) -> list[list[str]]:
        if not self.log.exists():
            return []
        records = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]
        return [[r["tool"], *r["args"]] for r in records if tool is None or r["tool"] == tool]

    def aws(self) -> list[list[str]]:
        """aws calls as subcommand arguments, the leading `--region R` taken off."""
        return [c[3:] if c[1:2] == ["--region"] else c[1:] for c in self.calls("aws")]

    def remove(self, tool: str) -> None:
        (self.bin / tool).unlink()


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    root = tmp_path / "repo"
    (root / "infra" / "scripts").mkdir(parents=True)
    (root / "infra" / "environments" / "dev").mkdir(parents=True)
    (root / "infra" / "bootstrap").mkdir(parents=True)
    shutil.copy2(ENVIRONMENT / "backend.tf", root / "infra" / "environments" / "dev" / "backend.tf")
    for script in (DEPLOY, CLEANUP):
        shutil.copy2(script, root / "infra" / "scripts" / script.name)
    (root / "dist").mkdir()
    (root / "dist" / "backend-lambda.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (root / "apps" / "web" / "out").mkdir(parents=True)
    (root / "apps" / "web" / "out" / "index.html").write_text("<html></html>", encoding="utf-8")
    (root / "terraform" / "environments" / "dev").mkdir(parents=True)

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = tmp_path / "stand_in.py"
    program.write_text(STAND_IN, encoding="utf-8")
    for tool in ["terraform", "aws", "uv", "docker", "curl", "npm", "zip"]:
        wrapper = bin_dir / tool
        wrapper.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{program}" {tool} "$@"\n', encoding="utf-8"
        )
        wrapper.chmod(0o755)
    for tool in SYSTEM_TOOLS:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return Sandbox(root=root, bin=bin_dir, log=tmp_path / "calls.jsonl")


def _terraform_subcommands(calls: list[list[str]]) -> list[str]:
    return [next(a for a in call[1:] if not a.startswith("-chdir=")) for call in calls]


# ---- deploy-serverless.sh ---------------------------------------------------------------


def test_help_documents_the_guides_flags(sandbox: Sandbox) -> None:
    result = sandbox.run(DEPLOY, "-h")
    assert result.returncode == 0
    for flag in ("-e ENV", "-s SUB_ENV", "--dry-run", "-h"):
        assert flag in result.stdout
    assert sandbox.calls() == []


def _index(calls: list[list[str]], predicate: object) -> int:
    return next(i for i, c in enumerate(calls) if predicate(c))  # type: ignore[operator]


def test_dry_run_plans_and_changes_nothing(sandbox: Sandbox) -> None:
    result = sandbox.run(
        DEPLOY, "-e", "dev", "-s", "dev02", "--dry-run", STANDIN_WORKSPACES="* default\n  dev02"
    )
    assert result.returncode == 0, result.stderr

    terraform = sandbox.calls("terraform")
    assert _terraform_subcommands(terraform) == ["init", "workspace", "workspace", "plan"]
    assert all(call[1] == f"-chdir={sandbox.root}/infra/environments/dev" for call in terraform)
    assert terraform[1][2:] == ["workspace", "list"]
    assert terraform[2][2:] == ["workspace", "select", "dev02"]
    plan = terraform[3]
    assert "environment=dev" in plan and "sub_environment=dev02" in plan
    assert any(a.startswith("-out=") for a in plan)

    assert [call[:2] for call in sandbox.aws()] == [
        ["sts", "get-caller-identity"],
        ["s3api", "head-bucket"],
    ]
    assert sandbox.calls("docker") == [] and sandbox.calls("curl") == []
    assert "nothing applied" in result.stderr


def test_dry_run_creates_no_workspace(sandbox: Sandbox) -> None:
    """Defect 8: `--dry-run` ran `workspace select -or-create`, creating state in the bucket."""
    result = sandbox.run(DEPLOY, "-s", "dev07", "--dry-run")
    assert result.returncode == 0, result.stderr
    terraform = sandbox.calls("terraform")
    for call in terraform:
        assert "new" not in call and "-or-create=true" not in call, call
        assert "apply" not in call, call
    # A new sub-environment is planned from a scratch copy with a local backend, removed after.
    plan = next(c for c in terraform if "plan" in c)
    scratch = Path(plan[1].removeprefix("-chdir="))
    assert scratch.parent == sandbox.root / "infra" / "environments"
    assert scratch.name.startswith(".dry-run-dev-")
    assert not scratch.exists()
    assert "empty local state" in result.stderr


def test_default_target_is_dev01(sandbox: Sandbox) -> None:
    assert sandbox.run(DEPLOY, "--dry-run", STANDIN_WORKSPACES="  dev01").returncode == 0
    terraform = sandbox.calls("terraform")
    assert terraform[2][-1] == "dev01"
    assert "sub_environment=dev01" in terraform[3]


def test_full_deploy_applies_creates_topics_syncs_invalidates_and_checks_health(
    sandbox: Sandbox,
) -> None:
    result = sandbox.run(DEPLOY, "-e", "dev", "-s", "dev02", "--no-verify")
    assert result.returncode == 0, result.stderr
    calls = sandbox.calls()
    tools = [c[0] for c in calls]

    uv = sandbox.calls("uv")
    assert uv and uv[0][1:] == ["run", "--frozen", "dpp", "producer", "package"]
    assert [
        "docker",
        "build",
        "-f",
        f"{sandbox.root}/consumer/Dockerfile",
        "-t",
        "dpp-consumer:abc123",
        str(sandbox.root),
    ] in calls

    terraform = sandbox.calls("terraform")
    subcommands = [s for s in _terraform_subcommands(terraform) if s != "output"]
    assert subcommands == ["init", "workspace", "workspace", "apply", "plan", "apply"]
    assert terraform[2][2:] == ["workspace", "new", "dev02"]
    assert terraform[-1][-1].endswith("dev02.tfplan") or any(
        c[-1].endswith("dev02.tfplan") for c in terraform if "apply" in c
    )

    aws = sandbox.aws()
    run_task = next(a for a in aws if a[:2] == ["ecs", "run-task"])
    assert (
        "arn:aws:ecs:us-east-1:123456789012:task-definition/dev-dev02-dpp-consumer-topics:1"
        in run_task
    )
    network = json.loads(run_task[run_task.index("--network-configuration") + 1])
    assert network["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"

    syncs = [a for a in aws if a[:2] == ["s3", "sync"]]
    assert len(syncs) == 2
    assert all(a[3] == "s3://dev-dev02-dpp-website" for a in syncs)
    assert "public, max-age=31536000, immutable" in syncs[0]
    assert "public, max-age=3600" in syncs[1]
    invalidation = next(a for a in aws if a[:2] == ["cloudfront", "create-invalidation"])
    assert invalidation[invalidation.index("--distribution-id") + 1] == "E2EXAMPLE"

    curl = [c[-1] for c in sandbox.calls("curl")]
    assert curl == [
        "https://abc123.execute-api.us-east-1.amazonaws.com/health",
        "https://abc123.execute-api.us-east-1.amazonaws.com/healthz",
        "https://dev02.hibiji.com/",
    ]
    # Order: build before terraform, full apply before topics, then sync, invalidation, health.
    order = [json.dumps(c) for c in calls]
    assert tools.index("uv") < tools.index("terraform")
    apply_at = max(i for i, c in enumerate(calls) if c[0] == "terraform" and "apply" in c)
    topics_at = _index(calls, lambda c: c[0] == "aws" and "run-task" in c)
    sync_at = _index(calls, lambda c: c[0] == "aws" and "sync" in c)
    inval_at = _index(calls, lambda c: c[0] == "aws" and "create-invalidation" in c)
    health_at = tools.index("curl")
    assert apply_at < topics_at < sync_at < inval_at < health_at, order


def test_image_is_pushed_before_the_services_are_applied(sandbox: Sandbox) -> None:
    """Defect 8: the ECS services were applied before their image existed in ECR."""
    result = sandbox.run(DEPLOY, "-s", "dev02", "--skip-frontend", "--no-verify")
    assert result.returncode == 0, result.stderr
    calls = sandbox.calls()
    applies = [i for i, c in enumerate(calls) if c[0] == "terraform" and "apply" in c]
    assert len(applies) == 2, applies
    targeted = calls[applies[0]]
    targets = sorted(a for a in targeted if a.startswith("-target="))
    assert targets == [
        "-target=module.consumer.aws_ecr_lifecycle_policy.this",
        "-target=module.consumer.aws_ecr_repository.this",
    ]
    push = _index(calls, lambda c: c[:2] == ["docker", "push"])
    assert (
        calls[push][-1]
        == "123456789012.dkr.ecr.us-east-1.amazonaws.com/dev-dev02-dpp-consumer:abc123"
    )
    full_apply = applies[1]
    assert not any(a.startswith("-target=") for a in calls[full_apply])
    assert applies[0] < push < full_apply


def test_an_image_already_in_ecr_is_not_pushed_again(sandbox: Sandbox) -> None:
    result = sandbox.run(DEPLOY, "--skip-frontend", "--no-verify", STANDIN_IMAGE_EXISTS="1")
    assert result.returncode == 0, result.stderr
    assert not any(c[:2] == ["docker", "push"] for c in sandbox.calls())
    assert "already pushed" in result.stderr


def test_every_aws_call_passes_the_configured_region(sandbox: Sandbox) -> None:
    """Defect 8: the aws calls used the profile's region, not the stack's."""
    result = sandbox.run(DEPLOY, "-s", "dev02", "--no-verify", AWS_REGION="eu-west-1")
    assert result.returncode == 0, result.stderr
    aws = sandbox.calls("aws")
    assert len(aws) >= 8
    for call in aws:
        assert call[1] == "--region", call
        # The state bucket lives where backend.tf says; everything else in the stack's region.
        expected = "us-east-1" if "head-bucket" in call else "eu-west-1"
        assert call[2] == expected, call
    for call in sandbox.calls("terraform"):
        if "plan" in call:
            assert "aws_region=eu-west-1" in call


def test_region_flag_wins_over_the_environment(sandbox: Sandbox) -> None:
    result = sandbox.run(DEPLOY, "--dry-run", "-r", "eu-central-1", AWS_REGION="eu-west-1")
    assert result.returncode == 0, result.stderr
    assert sandbox.calls("aws")[0][1:3] == ["--region", "eu-central-1"]


def test_missing_frontend_build_fails_before_any_apply(sandbox: Sandbox) -> None:
    """Defect 8: a missing frontend was noticed only after terraform apply."""
    shutil.rmtree(sandbox.root / "apps")
    result = sandbox.run(DEPLOY, "-s", "dev02")
    assert result.returncode != 0
    assert "frontend directory 'apps/web' not found" in result.stderr
    assert sandbox.calls("terraform") == [] and sandbox.calls("uv") == []


def test_frontend_without_a_build_fails_before_any_apply(sandbox: Sandbox) -> None:
    shutil.rmtree(sandbox.root / "apps" / "web" / "out")
    result = sandbox.run(DEPLOY, "-s", "dev02")
    assert result.returncode != 0
    assert "no frontend build" in result.stderr
    assert sandbox.calls("terraform") == []


def test_missing_backend_zip_fails_before_building_or_applying(sandbox: Sandbox) -> None:
    """Defect 8: the backend zip was checked only after the producer build."""
    (sandbox.root / "dist" / "backend-lambda.zip").unlink()
    result = sandbox.run(DEPLOY, "-s", "dev02")
    assert result.returncode != 0
    assert "dist/backend-lambda.zip is missing" in result.stderr
    assert sandbox.calls("terraform") == []
    assert sandbox.calls("uv") == [] and sandbox.calls("docker") == []


def test_bootstrap_runs_first_and_creates_the_state_bucket_and_roles(sandbox: Sandbox) -> None:
    """Defect 8: nothing created the state bucket, the lock or the GitHub OIDC role."""
    result = sandbox.run(
        DEPLOY,
        "--bootstrap",
        "--skip-frontend",
        "--no-verify",
        GITHUB_REPOSITORY="hibiji/dpp-events",
    )
    assert result.returncode == 0, result.stderr
    terraform = sandbox.calls("terraform")
    bootstrap_dir = f"-chdir={sandbox.root}/infra/bootstrap"
    assert terraform[0][1:] == [
        bootstrap_dir,
        "init",
        "-input=false",
        "-backend-config=path=terraform.dev.tfstate",
    ]
    apply = terraform[1]
    assert apply[1:5] == [bootstrap_dir, "apply", "-input=false", "-auto-approve"]
    for var in (
        "environment=dev",
        "aws_region=us-east-1",
        "state_bucket=dpp-terraform-state-dev",
        "github_repository=hibiji/dpp-events",
    ):
        assert var in apply, var
    env_dir = f"-chdir={sandbox.root}/infra/environments/dev"
    assert terraform[2][1:3] == [env_dir, "init"]
    head_bucket = _index(sandbox.aws(), lambda a: a[:2] == ["s3api", "head-bucket"])
    assert sandbox.aws()[head_bucket][3] == "dpp-terraform-state-dev"


def test_bootstrap_dry_run_only_plans(sandbox: Sandbox) -> None:
    result = sandbox.run(
        DEPLOY,
        "--bootstrap",
        "--dry-run",
        GITHUB_REPOSITORY="hibiji/dpp-events",
        STANDIN_FAIL="s3api head-bucket",
    )
    assert result.returncode == 0, result.stderr
    subcommands = _terraform_subcommands(sandbox.calls("terraform"))
    assert subcommands == ["init", "plan"]
    assert "cannot be planned before it exists" in result.stderr


def test_bootstrap_needs_the_repository(sandbox: Sandbox) -> None:
    result = sandbox.run(DEPLOY, "--bootstrap", "--dry-run")
    assert result.returncode != 0
    assert "GITHUB_REPOSITORY=owner/name" in result.stderr
    assert sandbox.calls("terraform") == []


def test_missing_state_bucket_points_to_the_bootstrap(sandbox: Sandbox) -> None:
    result = sandbox.run(DEPLOY, "--dry-run", STANDIN_FAIL="s3api head-bucket")
    assert result.returncode != 0
    assert "state bucket dpp-terraform-state-dev not found" in result.stderr
    assert "--bootstrap" in result.stderr
    assert sandbox.calls("terraform") == []


def test_skip_build_uses_the_passed_artifacts(sandbox: Sandbox) -> None:
    (sandbox.root / "dist" / "producer-lambda.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    result = sandbox.run(DEPLOY, "--dry-run", "--skip-build")
    assert result.returncode == 0, result.stderr
    assert sandbox.calls("uv") == [] and sandbox.calls("docker") == []
    plan = next(c for c in sandbox.calls("terraform") if "plan" in c)
    artifacts = next(a for a in plan if a.startswith("artifacts="))
    assert f"{sandbox.root}/dist/producer-lambda.zip" in artifacts


def test_failed_topic_task_stops_the_deploy(sandbox: Sandbox) -> None:
    result = sandbox.run(DEPLOY, STANDIN_TOPICS_EXIT="1")
    assert result.returncode != 0
    assert "dpp topics apply failed" in result.stderr
    assert not any(a[:2] == ["s3", "sync"] for a in sandbox.aws())


def test_missing_terraform_is_a_clear_error(sandbox: Sandbox) -> None:
    sandbox.remove("terraform")
    result = sandbox.run(DEPLOY, "--dry-run")
    assert result.returncode != 0
    assert "required tool 'terraform' is not on PATH" in result.stderr


def test_missing_credentials_is_a_clear_error(sandbox: Sandbox) -> None:
    result = sandbox.run(DEPLOY, "--dry-run", STANDIN_FAIL="aws sts get-caller-identity")
    assert result.returncode != 0
    assert "no usable AWS credentials" in result.stderr
    assert sandbox.calls("terraform") == []


@pytest.mark.parametrize("args", [["-s", "Dev 01"], ["-e", "nope"], ["--bogus"], ["-s"]])
def test_bad_arguments_are_rejected(sandbox: Sandbox, args: list[str]) -> None:
    result = sandbox.run(DEPLOY, *args)
    assert result.returncode != 0
    assert "error" in result.stderr
    assert sandbox.calls("terraform") == []


# ---- serverless-migration-cleanup.sh ----------------------------------------------------

LEGACY_STATE = "\n".join(
    [
        "data.aws_caller_identity.current",
        "aws_ecs_cluster.main",
        "aws_ecs_service.backend",
        "aws_ecs_service.frontend",
        "aws_lb.main",
        "aws_nat_gateway.main",
        "aws_db_instance.main",
        "aws_route53_record.api",
        "aws_route53_record.website",
        "aws_route53_zone.main",
        "module.dns.aws_route53_record.www",
    ]
)
ROUTE53 = [
    "aws_route53_record.api",
    "aws_route53_record.website",
    "aws_route53_zone.main",
    "module.dns.aws_route53_record.www",
]


def _never_touches_route53(sandbox: Sandbox) -> None:
    for call in sandbox.calls("aws"):
        assert "route53" not in " ".join(call), call
    for call in sandbox.calls("terraform"):
        if "destroy" in call or "apply" in call:
            assert not any("route53" in a for a in call), call


def test_cleanup_dry_run_lists_and_changes_nothing(sandbox: Sandbox) -> None:
    result = sandbox.run(CLEANUP, "--dry-run", STANDIN_STATE=LEGACY_STATE)
    assert result.returncode == 0, result.stderr
    assert _terraform_subcommands(sandbox.calls("terraform")) == ["init", "workspace", "state"]
    assert sandbox.calls("terraform")[1][3:] == ["select", "dev01"]
    for address in ROUTE53:
        assert f"keep     {address}" in result.stdout
    for address in ["aws_ecs_service.backend", "aws_lb.main", "aws_nat_gateway.main"]:
        assert f"destroy  {address}" in result.stdout
    assert "data.aws_caller_identity" not in result.stdout
    assert not any("destroy" in c or "rm" in c for c in sandbox.calls("terraform"))
    _never_touches_route53(sandbox)


def test_cleanup_with_yes_forgets_route53_then_destroys_the_rest(sandbox: Sandbox) -> None:
    result = sandbox.run(CLEANUP, "-s", "dev02", "--yes", STANDIN_STATE=LEGACY_STATE)
    assert result.returncode == 0, result.stderr
    terraform = sandbox.calls("terraform")
    assert _terraform_subcommands(terraform) == ["init", "workspace", "state", "state", "destroy"]
    assert terraform[1][-1] == "dev02"
    state_rm = terraform[3]
    assert state_rm[3] == "rm" and sorted(state_rm[4:]) == sorted(ROUTE53)
    assert terraform[4][3:] == ["-input=false", "-auto-approve"]
    _never_touches_route53(sandbox)


def test_cleanup_without_confirmation_refuses(sandbox: Sandbox) -> None:
    result = sandbox.run(CLEANUP, stdin="", STANDIN_STATE=LEGACY_STATE)
    assert result.returncode != 0
    assert "pass --yes" in result.stderr
    assert not any("destroy" in c or "rm" in c for c in sandbox.calls("terraform"))


def test_cleanup_missing_legacy_stack_is_a_clear_error(sandbox: Sandbox) -> None:
    result = sandbox.run(CLEANUP, "--dry-run", "--legacy-dir", "nowhere")
    assert result.returncode != 0
    assert "legacy Terraform directory 'nowhere' not found" in result.stderr
    assert sandbox.calls() == []


def test_cleanup_missing_aws_cli_is_a_clear_error(sandbox: Sandbox) -> None:
    sandbox.remove("aws")
    result = sandbox.run(CLEANUP, "--dry-run")
    assert result.returncode != 0
    assert "required tool 'aws' is not on PATH" in result.stderr


def test_scripts_need_no_real_cloud() -> None:
    """The sandbox PATH above hides real terraform/aws; make sure none leaks via absolute paths."""
    for script in (DEPLOY, CLEANUP):
        text = script.read_text(encoding="utf-8")
        assert "/usr/local/bin/" not in text
        assert os.sep + "aws " not in text
