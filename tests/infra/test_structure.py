"""Terraform structure via python-hcl2: layout, typed variables, naming, tags, outputs."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.infra.toolchain import ENVIRONMENTS, INFRA, MODULES

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is a dev dependency of the infra tests")

MODULE_NAMES = [
    "network",
    "s3-static-website",
    "lambda-function",
    "api-gateway",
    "aurora-serverless",
    "secrets",
    "msk",
    "event-consumer",
    "monitoring",
    "s3-uploads",
]
DEV = ENVIRONMENTS / "dev"
NAME_ARGUMENTS = {"name", "function_name", "bucket_name"}


def unquote(value: Any) -> Any:
    """python-hcl2 keeps string quotes and wraps expressions in ${...}; strip the quotes."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return dict(hcl2.load(handle))


def blocks(path: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Blocks with one label (variable, output, module) by unquoted label."""
    found: dict[str, dict[str, Any]] = {}
    for entry in load(path).get(kind, []):
        for label, body in entry.items():
            found[unquote(label)] = body
    return found


def resources(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for entry in load(path).get("resource", []):
        for rtype, named in entry.items():
            for name, body in named.items():
                found.append((unquote(rtype), unquote(name), body))
    return found


def module_tf_files(module: Path) -> list[Path]:
    return sorted(module.glob("*.tf"))


def test_every_module_from_the_issue_exists() -> None:
    assert sorted(p.name for p in MODULES.iterdir() if p.is_dir()) == sorted(MODULE_NAMES)


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_module_layout_and_readme_example(name: str) -> None:
    module = MODULES / name
    for file in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (module / file).is_file(), f"{name} lacks {file}"
    readme = (module / "README.md").read_text(encoding="utf-8")
    assert "```hcl" in readme and f'source = "../../modules/{name}"' in readme, name


@pytest.mark.parametrize("path", [*(MODULES / n for n in MODULE_NAMES), DEV], ids=lambda p: p.name)
def test_versions_pin_a_provider_range(path: Path) -> None:
    terraform = load(path / "versions.tf")["terraform"][0]
    assert terraform["required_version"]
    aws = terraform["required_providers"][0]["aws"]
    assert unquote(aws["source"]) == "hashicorp/aws"
    constraint = unquote(aws["version"])
    assert re.fullmatch(r">= \d+\.\d+, < \d+\.0", constraint), constraint


@pytest.mark.parametrize("path", [*(MODULES / n for n in MODULE_NAMES), DEV], ids=lambda p: p.name)
def test_variables_are_typed_and_described(path: Path) -> None:
    variables = blocks(path / "variables.tf", "variable")
    assert variables
    for name, body in variables.items():
        assert "type" in body, f"{path.name}: variable {name} has no type"
        assert len(unquote(body.get("description", ""))) > 10, f"{path.name}: {name} undescribed"
    for file in module_tf_files(path):
        if file.name != "variables.tf":
            assert "variable" not in load(file), f"variables belong in variables.tf ({file})"
        if file.name != "outputs.tf":
            assert "output" not in load(file), f"outputs belong in outputs.tf ({file})"


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_inputs_the_environment_sets_are_validated(name: str) -> None:
    """Required primitive inputs and the name inputs environments set carry a validation block."""
    variables = blocks(MODULES / name / "variables.tf", "variable")
    for var_name, body in variables.items():
        required = "default" not in body
        primitive = body["type"] in ("${string}", "${number}", "string", "number")
        if (required and primitive) or var_name in NAME_ARGUMENTS:
            assert body.get("validation"), f"{name}: variable {var_name} needs a validation block"
    assert "tags" in variables and "map(string)" in variables["tags"]["type"]


def test_environment_variables_set_by_tfvars_are_validated() -> None:
    variables = blocks(DEV / "variables.tf", "variable")
    tfvars = {k: unquote(v) for k, v in load(DEV / "terraform.tfvars").items()}
    assert tfvars == {"environment": "dev", "sub_environment": "dev01", "domain_name": "hibiji.com"}
    for name in tfvars:
        assert variables[name].get("validation"), name


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_single_resource_of_a_type_is_named_this(name: str) -> None:
    by_type: dict[str, list[str]] = {}
    for file in module_tf_files(MODULES / name):
        for rtype, rname, _ in resources(file):
            by_type.setdefault(rtype, []).append(rname)
    for rtype, names in by_type.items():
        if len(names) == 1:
            assert names == ["this"], f"{name}: single {rtype} should be named this, not {names[0]}"


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_tagged_resources_use_the_shared_tags_map(name: str) -> None:
    for file in module_tf_files(MODULES / name):
        for rtype, rname, body in resources(file):
            if "tags" in body:
                assert "var.tags" in str(body["tags"]), f"{name}: {rtype}.{rname} ignores var.tags"


def test_dev_names_follow_environment_sub_environment_dpp_part() -> None:
    main = load(DEV / "main.tf")
    local_name = unquote(main["locals"][0]["name"])
    assert local_name == "${var.environment}-${var.sub_environment}-dpp"
    modules = blocks(DEV / "main.tf", "module")
    names = {}
    for label, body in modules.items():
        for argument in NAME_ARGUMENTS & body.keys():
            names[label] = unquote(body[argument])
    for label, value in names.items():
        assert value.startswith("${local.name}"), (
            f"module {label} name {value} breaks the convention"
        )
    resolved = {k: v.replace("${local.name}", "dev-dev01-dpp") for k, v in names.items()}
    assert resolved["backend"] == "dev-dev01-dpp-api"
    assert resolved["website"] == "dev-dev01-dpp-website"
    assert resolved["api"] == "dev-dev01-dpp-http-api"
    assert resolved["producer"] == "dev-dev01-dpp-producer"
    assert resolved["consumer"] == "dev-dev01-dpp-consumer"
    assert resolved["msk"] == "dev-dev01-dpp-msk"
    assert resolved["database"] == "dev-dev01-dpp-db"
    assert resolved["secrets"] == "dev-dev01-dpp-jwt-secret"


def test_dev_wires_every_module_and_common_tags() -> None:
    main = load(DEV / "main.tf")
    modules = blocks(DEV / "main.tf", "module")
    sources = {unquote(b["source"]) for b in modules.values()}
    assert sources == {f"../../modules/{n}" for n in MODULE_NAMES}
    # One Lambda module for every function: the backend and the producer both use it.
    assert unquote(modules["backend"]["source"]) == "../../modules/lambda-function"
    assert unquote(modules["producer"]["source"]) == "../../modules/lambda-function"
    for label, body in modules.items():
        assert body.get("tags") == "${local.tags}", f"module {label} misses the common tags"
    tags = main["locals"][0]["tags"]
    for key in ("Project", "Environment", "SubEnvironment", "ManagedBy"):
        assert key in tags
    provider = {unquote(k): v for k, v in main["provider"][0].items()}["aws"]
    assert provider["default_tags"][0]["tags"] == "${local.tags}"


def test_remote_state_is_s3_with_locking() -> None:
    backend = load(DEV / "backend.tf")["terraform"][0]["backend"][0]
    s3 = {unquote(k): v for k, v in backend.items()}["s3"]
    assert unquote(s3["bucket"]).endswith("-dev")
    assert s3["use_lockfile"] is True and s3["encrypt"] is True
    assert "workspace_key_prefix" in s3


def test_outputs_the_deploy_script_reads_exist() -> None:
    outputs = blocks(DEV / "outputs.tf", "output")
    script = (INFRA / "scripts" / "deploy-serverless.sh").read_text(encoding="utf-8")
    read = set(re.findall(r"tf_out ([a-z_]+)", script)) | set(
        re.findall(r"output -json ([a-z_]+)", script)
    )
    assert read, "the deploy script reads no outputs?"
    assert read <= outputs.keys(), read - outputs.keys()
    assert "next_public_api_url" in outputs
    for name, body in outputs.items():
        assert len(unquote(body.get("description", ""))) > 5, f"output {name} undescribed"


def test_lambda_module_refuses_the_reserved_region_variable() -> None:
    """AWS_REGION is reserved on Lambda: setting it would make the API call fail."""
    variables = blocks(MODULES / "lambda-function" / "variables.tf", "variable")
    conditions = str(variables["environment"]["validation"])
    assert "AWS_REGION" in conditions


def test_lambda_module_keeps_state_with_moved_blocks() -> None:
    main = load(MODULES / "lambda-function" / "main.tf")
    moves = [(unquote(m["from"]), unquote(m["to"])) for m in main.get("moved", [])]
    assert ("${aws_lambda_alias.this[0]}", "${aws_lambda_alias.this}") in moves or (
        "aws_lambda_alias.this[0]",
        "aws_lambda_alias.this",
    ) in moves, moves


def test_consumer_matches_the_autoscaler_and_cli() -> None:
    consumer = blocks(DEV / "main.tf", "module")["consumer"]
    scaling = consumer["autoscaling"]
    assert (scaling["min_workers"], scaling["max_workers"], scaling["partitions"]) == (1, 8, 6)
    assert scaling["lag_per_worker"] == 100
    assert (scaling["scale_out_cooldown"], scaling["scale_in_cooldown"]) == (60, 300)
    dev_locals = load(DEV / "main.tf")["locals"][0]
    assert unquote(dev_locals["consumer_group"]) == "dpp-ml-workers"
    assert consumer["kafka"]["consumer_group"] == "${local.consumer_group}"
    main = (MODULES / "event-consumer" / "main.tf").read_text(encoding="utf-8")
    assert "min(var.autoscaling.max_workers, var.autoscaling.partitions)" in main
    # Commands come from the contract, not from module defaults.
    assert "command                = var.components.worker.command" in main
    assert "command                = var.components.topics.command" in main


def test_topics_are_defined_by_the_cli_only() -> None:
    for path in INFRA.rglob("*.tf"):
        text = path.read_text(encoding="utf-8")
        assert 'resource "kafka_topic"' not in text and "aws_msk_topic" not in text, path


def test_producer_handler_comes_from_the_contract() -> None:
    producer = blocks(DEV / "main.tf", "module")["producer"]
    assert producer["handler"] == "${local.contract.producer.handler}"
    dev_vars = blocks(DEV / "variables.tf", "variable")
    assert "producer-lambda.zip" in str(dev_vars["artifacts"]["type"])


def test_monitoring_covers_the_issue_alarms() -> None:
    text = (MODULES / "monitoring" / "main.tf").read_text(encoding="utf-8")
    for needle in (
        '"Errors"',
        '"Duration"',
        '"5xx"',
        '"Latency"',
        '"ConsumerLagMessages"',
        '"ConsumerLagSeconds"',
        '"DeadLetters"',
        'resource "aws_budgets_budget"',
        'resource "aws_cloudwatch_dashboard"',
    ):
        assert needle in text, needle


def test_msk_readme_states_monthly_cost() -> None:
    readme = (MODULES / "msk" / "README.md").read_text(encoding="utf-8")
    assert "serverless" in readme.lower() and "provisioned" in readme.lower()
    assert re.search(r"\$\d+.*/month", readme)


# ---- bootstrap: state bucket, lock, GitHub OIDC ------------------------------------------

BOOTSTRAP = INFRA / "bootstrap"


def _bootstrap_resources() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for file in module_tf_files(BOOTSTRAP):
        for rtype, rname, body in resources(file):
            found[(rtype, rname)] = body
    return found


def test_bootstrap_layout_and_typed_variables() -> None:
    for file in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert (BOOTSTRAP / file).is_file(), file
    test_versions_pin_a_provider_range(BOOTSTRAP)
    test_variables_are_typed_and_described(BOOTSTRAP)


def test_bootstrap_state_bucket_is_versioned_encrypted_and_private() -> None:
    found = _bootstrap_resources()
    assert ("aws_s3_bucket", "this") in found
    versioning = found[("aws_s3_bucket_versioning", "this")]
    assert unquote(versioning["versioning_configuration"][0]["status"]) == "Enabled"
    sse = found[("aws_s3_bucket_server_side_encryption_configuration", "this")]
    default = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert unquote(default["sse_algorithm"]) in ("aws:kms", "AES256")
    block = found[("aws_s3_bucket_public_access_block", "this")]
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert block[flag] is True, flag
    assert ("aws_s3_bucket_policy", "this") in found  # TLS-only


def test_bootstrap_and_every_backend_agree_on_bucket_region_and_lock() -> None:
    """Each environment's backend names the bucket the bootstrap creates and locks with S3."""
    variables = blocks(BOOTSTRAP / "variables.tf", "variable")
    main = (BOOTSTRAP / "main.tf").read_text(encoding="utf-8")
    assert 'coalesce(var.state_bucket, "dpp-terraform-state-${var.environment}")' in main
    environments = [unquote(e) for e in re.findall(r'"(\w+)"', str(variables["environment"]))]
    for env_dir in sorted(p for p in ENVIRONMENTS.iterdir() if p.is_dir()):
        backend = load(env_dir / "backend.tf")["terraform"][0]["backend"][0]
        s3 = {unquote(k): v for k, v in backend.items()}["s3"]
        assert unquote(s3["bucket"]) == f"dpp-terraform-state-{env_dir.name}", env_dir
        assert unquote(s3["region"]) == unquote(variables["aws_region"]["default"]), env_dir
        # S3-native locking: the bootstrap creates no DynamoDB table, so none may be named.
        assert s3["use_lockfile"] is True and "dynamodb_table" not in s3, env_dir
        assert env_dir.name in environments, env_dir
    assert not any(rtype == "aws_dynamodb_table" for rtype, _ in _bootstrap_resources())


def test_github_roles_are_scoped_to_the_repository() -> None:
    main = load(BOOTSTRAP / "main.tf")
    docs = {}
    for entry in main.get("data", []):
        for dtype, named in entry.items():
            for name, body in named.items():
                if unquote(dtype) == "aws_iam_policy_document":
                    docs[unquote(name)] = body
    subjects = main["locals"][1]
    for role, local in (("assume_deploy", "deploy_subjects"), ("assume_plan", "plan_subjects")):
        conditions = {unquote(c["variable"]): c for c in docs[role]["statement"][0]["condition"]}
        assert unquote(conditions["token.actions.githubusercontent.com:aud"]["test"]) == (
            "StringEquals"
        )
        sub = conditions["token.actions.githubusercontent.com:sub"]
        assert unquote(sub["test"]) == "StringEquals"  # no wildcards
        assert sub["values"] == f"${{local.{local}}}"
        for subject in subjects[local]:
            assert unquote(subject).startswith("repo:${var.github_repository}:"), subject
    resources_found = _bootstrap_resources()
    provider = resources_found[("aws_iam_openid_connect_provider", "github")]
    assert unquote(provider["url"]) == "https://token.actions.githubusercontent.com"
