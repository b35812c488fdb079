"""How environments/prod differs from dev: the production knobs, read from both with python-hcl2."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from dpp_cli.cost import estimate_environment, load_price_book
from tests.infra.toolchain import ENVIRONMENTS, INFRA, MODULES, REPO_ROOT, require_tool, tool_env

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is a dev dependency of the infra tests")

DEV = ENVIRONMENTS / "dev"
PROD = ENVIRONMENTS / "prod"


def load(path: Any) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return dict(hcl2.load(handle))


def modules(env: Any) -> dict[str, dict[str, Any]]:
    return {k.strip('"'): v for e in load(env / "main.tf")["module"] for k, v in e.items()}


def variables(env: Any) -> dict[str, dict[str, Any]]:
    return {k.strip('"'): v for e in load(env / "variables.tf")["variable"] for k, v in e.items()}


def test_both_environments_declare_the_same_modules_and_outputs() -> None:
    assert modules(DEV).keys() == modules(PROD).keys()
    dev_outputs = {k for e in load(DEV / "outputs.tf")["output"] for k in e}
    prod_outputs = {k for e in load(PROD / "outputs.tf")["output"] for k in e}
    assert dev_outputs == prod_outputs
    assert (DEV / "versions.tf").read_text() == (PROD / "versions.tf").read_text()


def test_prod_has_the_same_wiring_as_dev() -> None:
    """prod is dev's contract-driven wiring: only the knobs differ, never the locals or sources."""
    dev_locals, prod_locals = (
        load(DEV / "main.tf")["locals"][0],
        load(PROD / "main.tf")["locals"][0],
    )
    assert dev_locals == prod_locals
    assert "jsondecode(file(" in prod_locals["contract"]
    dev, prod = modules(DEV), modules(PROD)
    for name, body in prod.items():
        assert body["source"] == dev[name]["source"], name
    for name in ("backend", "producer"):
        assert prod[name]["source"] == '"../../modules/lambda-function"'
        for key in ("handler", "environment", "secret_arns", "policy_statements", "vpc_config"):
            assert prod[name][key] == dev[name][key], (name, key)
    assert prod["consumer"]["components"] == dev["consumer"]["components"]
    assert prod["api"]["integrations"] == dev["api"]["integrations"]
    assert prod["network"]["interface_endpoints"] == dev["network"]["interface_endpoints"]
    assert {'"lambda"', '"monitoring"'} <= set(prod["network"]["interface_endpoints"])


def test_provisioned_concurrency_is_on_the_live_alias() -> None:
    """Ported from event-producer: warm instances on the alias API Gateway and the backend call."""
    module = MODULES / "lambda-function"
    config = load(module / "provisioned.tf")["resource"][0][
        '"aws_lambda_provisioned_concurrency_config"'
    ]
    body = config['"this"']
    assert body["qualifier"] == "${aws_lambda_alias.this.name}"
    assert body["count"] == "${var.provisioned_concurrency > 0 ? 1 : 0}"
    outputs = {k.strip('"'): v for e in load(module / "outputs.tf")["output"] for k, v in e.items()}
    assert outputs["invoke_arn"]["value"] == "${aws_lambda_alias.this.invoke_arn}"
    assert outputs["qualifier"]["value"] == "${aws_lambda_alias.this.name}"


def test_prod_has_its_own_state_and_names() -> None:
    backend = load(PROD / "backend.tf")["terraform"][0]["backend"][0]['"s3"']
    assert backend["bucket"] == '"dpp-terraform-state-prod"'
    assert backend["workspace_key_prefix"] == '"prod"'
    assert backend["use_lockfile"] is True and backend["encrypt"] is True
    tfvars = load(PROD / "terraform.tfvars")
    assert tfvars["environment"] == '"prod"' and tfvars["sub_environment"] == '"prod01"'


def test_deletion_protection_and_retention_are_on_in_prod_only() -> None:
    dev, prod = modules(DEV), modules(PROD)
    assert dev["database"]["deletion_protection"] is False
    assert prod["database"]["deletion_protection"] is True
    assert dev["database"]["skip_final_snapshot"] is True
    assert prod["database"]["skip_final_snapshot"] is False
    assert prod["database"]["backup_retention_period"] == 30
    for name in ("website", "uploads"):
        assert dev[name]["force_destroy"] is True
        assert prod[name]["force_destroy"] is False
    assert prod["secrets"]["recovery_window_in_days"] == 30


def test_prod_is_multi_az() -> None:
    dev, prod = modules(DEV), modules(PROD)
    assert dev["network"]["endpoint_subnet_count"] == 1
    assert prod["network"]["endpoint_subnet_count"] == 2
    assert prod["database"]["instance_count"] == "${var.database.instances}"
    database = variables(PROD)["database"]
    assert "instances = optional(number, 2)" in database["type"]
    assert any("instances >= 2" in v["condition"] for v in database["validation"])
    # dev pauses Aurora at 0 ACU; prod never pauses.
    assert "min_acu = optional(number, 0)," in variables(DEV)["database"]["type"]
    assert "min_acu = optional(number, 0.5)," in database["type"]
    assert "seconds_until_auto_pause" not in str(prod["database"]["capacity"])
    assert prod["consumer"]["autoscaling"]["min_workers"] == 2
    assert variables(PROD)["consumer_fargate_spot"]["default"] is False


def test_producer_has_provisioned_concurrency_in_prod_only() -> None:
    dev, prod = modules(DEV), modules(PROD)
    assert "provisioned_concurrency" not in dev["producer"]
    assert prod["producer"]["provisioned_concurrency"] == "${var.producer_provisioned_concurrency}"
    assert variables(PROD)["producer_provisioned_concurrency"]["default"] >= 1
    book = load_price_book(INFRA / "pricing" / "us-east-1.json")
    lines = estimate_environment(PROD, book).lines
    provisioned = [
        line for line in lines if line.rtype == "aws_lambda_provisioned_concurrency_config"
    ]
    assert {line.address.split(".")[1] for line in provisioned} == {"producer", "backend"}
    dev_lines = estimate_environment(DEV, book).lines
    assert not [line for line in dev_lines if "provisioned_concurrency" in line.rtype]


def test_prod_alarms_are_stricter_than_the_module_defaults() -> None:
    prod = modules(PROD)["monitoring"]
    assert "thresholds" not in modules(DEV)["monitoring"]
    defaults_type = variables_of_monitoring()["thresholds"]["type"]
    for key, value in prod["thresholds"].items():
        default = float(
            defaults_type.split(f"{key} ")[1].split("optional(number, ")[1].split(")")[0]
        )
        if key == "cloudfront_cache_hit_rate_min_pct":
            assert value > default, key  # a minimum: stricter means higher
        elif key in ("lambda_concurrent_executions", "api_requests_per_5min", "s3_bucket_size_gb"):
            continue  # capacity limits scale with production traffic, not strictness
        else:
            assert value < default or (default == 0 and value == 0), key


def variables_of_monitoring() -> dict[str, dict[str, Any]]:
    path = INFRA / "modules" / "monitoring" / "variables.tf"
    return {k.strip('"'): v for e in load(path)["variable"] for k, v in e.items()}


def test_prod_has_a_budget_with_a_higher_limit_and_more_recipients() -> None:
    dev_vars, prod_vars = variables(DEV), variables(PROD)
    assert prod_vars["monthly_budget_usd"]["default"] > dev_vars["monthly_budget_usd"]["default"]
    assert len(prod_vars["alert_emails"]["default"]) > len(dev_vars["alert_emails"]["default"])
    budget = modules(PROD)["monitoring"]["budget"]
    assert budget["monthly_limit_usd"] == "${var.monthly_budget_usd}"
    assert budget["emails"] == "${var.alert_emails}"
    text = (INFRA / "modules" / "monitoring" / "main.tf").read_text(encoding="utf-8")
    assert 'resource "aws_budgets_budget" "this"' in text


def test_prod_estimate_is_within_its_budget() -> None:
    book = load_price_book(INFRA / "pricing" / "us-east-1.json")
    est = estimate_environment(PROD, book)
    assert est.unpriced == []
    total_load = est.total(1, "load") + est.total(2, "load")
    assert total_load < variables(PROD)["monthly_budget_usd"]["default"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_offline_checkers_pass_on_each_environment_alone(env: str) -> None:
    """The recursive runs in test_offline_checks cover both; this names prod explicitly."""
    tflint = require_tool("tflint")
    checkov = require_tool("checkov")
    env_dir = ENVIRONMENTS / env
    result = subprocess.run(
        [tflint, f"--chdir={env_dir}", f"--config={INFRA / '.tflint.hcl'}", "--format=compact"],
        cwd=REPO_ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    checkov_args = ["-d", str(env_dir), "--framework", "terraform", "--quiet", "--skip-download"]
    result = subprocess.run(
        [checkov, *checkov_args, "--output", "json"],
        cwd=REPO_ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [c["check_id"] for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    passed = sum(r["summary"]["passed"] for r in reports)
    assert not failed, failed
    assert passed > 50, "checkov did not evaluate the environment's modules"
