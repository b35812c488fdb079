"""The cost model: every billable type priced, the check fails on an unpriced one, docs current."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dpp_cli.cost import (
    PriceBookError,
    Workload,
    estimate_environment,
    load_environment,
    load_price_book,
    render,
)
from dpp_cli.main import app
from tests.infra.toolchain import ENVIRONMENTS, INFRA, REPO_ROOT

pytest.importorskip("hcl2", reason="python-hcl2 is a dev dependency of the infra tests")

BOOK_PATH = INFRA / "pricing" / "us-east-1.json"
ENV_NAMES = sorted(p.name for p in ENVIRONMENTS.iterdir() if p.is_dir())

MODULE_TF = """
variable "name" {
  description = "Name."
  type        = string
}

variable "settings" {
  description = "Settings with optional defaults."
  type = object({
    enabled = optional(bool, true)
    extra   = optional(number, 0)
  })
  default = {}
}

resource "aws_secretsmanager_secret" "this" {
  count = var.settings.enabled ? 1 : 0
  name  = var.name
}

resource "aws_secretsmanager_secret" "extra" {
  count = var.settings.extra
  name  = "${var.name}-${count.index}"
}

resource "aws_iam_role" "this" {
  name               = var.name
  assume_role_policy = "{}"
}
"""


def synthetic_infra(tmp_path: Path, module_tf: str, call: str = "") -> Path:
    """A tiny infra/ tree: one environment calling one local module, and the real price book."""
    infra = tmp_path / "infra"
    (infra / "modules" / "thing").mkdir(parents=True)
    (infra / "modules" / "thing" / "main.tf").write_text(module_tf, encoding="utf-8")
    env = infra / "environments" / "dev"
    env.mkdir(parents=True)
    (env / "main.tf").write_text(
        f'module "secrets" {{\n  source = "../../modules/thing"\n  name = "x"\n{call}}}\n',
        encoding="utf-8",
    )
    (infra / "pricing").mkdir()
    shutil.copy(BOOK_PATH, infra / "pricing" / "us-east-1.json")
    return infra


def run_cost(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["infra", "cost", *args])
    return result.exit_code, result.output


def test_synthetic_priced_environment_passes_the_check(tmp_path: Path) -> None:
    infra = synthetic_infra(tmp_path, MODULE_TF, "  settings = { extra = 2 }\n")
    book = load_price_book(infra / "pricing" / "us-east-1.json")
    est = estimate_environment(infra / "environments" / "dev", book)
    assert est.unpriced == []
    # optional() defaults applied: enabled=true -> 1 secret; extra=2 -> 2 more; IAM is free.
    secrets = [line for line in est.lines if line.price_key == "secretsmanager_secret_month"]
    assert len(secrets) == 3
    assert est.total(1, "idle") == pytest.approx(3 * 0.40)
    assert "aws_iam_role" in est.free
    code, output = run_cost("--infra", str(infra), "--check")
    assert code == 0, output


CONTRACT_TF = """
locals {
  contract = jsondecode(file("${path.module}/contract.json"))
  # f(list...) expansion, as api-gateway builds its routes: one secret per contract route.
  routes = merge([for key, keys in local.contract : { for k in keys : k => key }]...)
}

resource "aws_secretsmanager_secret" "route" {
  for_each = local.routes
  name     = each.key
}
"""


def test_contract_file_and_argument_expansion_are_read(tmp_path: Path) -> None:
    """Routes read with jsondecode(file(path.module)) and merge([...]...) give known counts."""
    infra = synthetic_infra(tmp_path, CONTRACT_TF)
    contract = {"backend": ["ANY /{proxy+}", "GET /health"], "producer": ["POST /v1/events"]}
    (infra / "modules" / "thing" / "contract.json").write_text(
        json.dumps(contract), encoding="utf-8"
    )
    instances = load_environment(infra / "environments" / "dev")
    routes = {i.key for i in instances if i.name == "route"}
    assert routes == {"ANY /{proxy+}", "GET /health", "POST /v1/events"}
    assert all(i.count_known for i in instances)


def test_billable_type_without_price_entry_fails_the_check(tmp_path: Path) -> None:
    nat = MODULE_TF + '\nresource "aws_nat_gateway" "this" {\n  subnet_id = "s"\n}\n'
    infra = synthetic_infra(tmp_path, nat)
    book = load_price_book(infra / "pricing" / "us-east-1.json")
    est = estimate_environment(infra / "environments" / "dev", book)
    assert any("aws_nat_gateway" in problem for problem in est.unpriced), est.unpriced
    code, output = run_cost("--infra", str(infra), "--check")
    assert code != 0
    assert "aws_nat_gateway" in output and "without a price entry" in output


def test_price_removed_from_the_book_fails_the_check(tmp_path: Path) -> None:
    infra = synthetic_infra(tmp_path, MODULE_TF)
    book_file = infra / "pricing" / "us-east-1.json"
    raw = json.loads(book_file.read_text(encoding="utf-8"))
    del raw["prices"]["secretsmanager_secret_month"]
    book_file.write_text(json.dumps(raw), encoding="utf-8")
    code, output = run_cost("--infra", str(infra), "--check")
    assert code != 0
    assert "secretsmanager_secret_month" in output


def test_a_price_without_an_aws_source_is_rejected(tmp_path: Path) -> None:
    raw = json.loads(BOOK_PATH.read_text(encoding="utf-8"))
    raw["prices"]["lambda_request_million"]["source"] = "https://example.com/blog"
    path = tmp_path / "book.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(PriceBookError, match=r"aws\.amazon\.com"):
        load_price_book(path)


@pytest.mark.parametrize("env", ENV_NAMES)
def test_every_billable_resource_of_the_real_environments_is_priced(env: str) -> None:
    book = load_price_book(BOOK_PATH)
    est = estimate_environment(ENVIRONMENTS / env, book)
    assert est.unpriced == [], "\n".join(est.unpriced)
    assert est.lines, "nothing billable found?"
    for line in est.lines:
        assert book.prices[line.price_key].source.startswith("https://aws.amazon.com/")


def test_phase1_dev_idle_meets_the_goal_and_the_levers_are_on() -> None:
    book = load_price_book(BOOK_PATH)
    est = estimate_environment(ENVIRONMENTS / "dev", book)
    assert est.total(1, "idle") <= 25.0
    assert est.total(1, "load") > est.total(1, "idle")
    aurora = [line for line in est.lines if line.price_key == "aurora_serverless_v2_acu_hour"]
    assert len(aurora) == 1 and aurora[0].idle == 0 and "auto-pause" in aurora[0].note
    assert not [line for line in est.lines if line.rtype == "aws_db_proxy"]
    endpoints = {
        line.address: line.phase
        for line in est.lines
        if line.price_key == "vpc_interface_endpoint_hour"
    }
    phase1 = [address for address, phase in endpoints.items() if phase == 1]
    assert phase1 == ["module.network.aws_vpc_endpoint.interface['secretsmanager']"]
    msk = [line for line in est.lines if line.rtype.startswith("aws_msk")]
    assert msk and all(line.phase == 2 for line in msk)
    assert any("kafka.t3.small" in line.item for line in msk)


def test_docs_cost_md_is_the_generated_report() -> None:
    book = load_price_book(BOOK_PATH)
    estimates = [estimate_environment(ENVIRONMENTS / env, book) for env in ENV_NAMES]
    expected = render(estimates, book, Workload())
    committed = (REPO_ROOT / "docs" / "cost.md").read_text(encoding="utf-8")
    assert committed == expected, (
        "docs/cost.md is stale: run `uv run dpp infra cost --write docs/cost.md`"
    )
    assert "Phase 1 dev at idle" in committed and "~$21.00" in committed


def test_check_mode_detects_a_stale_report(tmp_path: Path) -> None:
    stale = tmp_path / "cost.md"
    stale.write_text("# old\n", encoding="utf-8")
    code, output = run_cost("--infra", str(INFRA), "--check", "--write", str(stale))
    assert code != 0 and "out of date" in output
    assert stale.read_text(encoding="utf-8") == "# old\n"
    code, _ = run_cost("--infra", str(INFRA), "--write", str(stale))
    assert code == 0
    code, output = run_cost("--infra", str(INFRA), "--check", "--write", str(stale))
    assert code == 0, output


def test_counts_follow_module_outputs_data_sources_and_defaults() -> None:
    """Counts come from the configuration, through module outputs and optional() defaults."""

    def count(env: str, rtype: str) -> int:
        return sum(1 for i in load_environment(ENVIRONMENTS / env) if i.rtype == rtype)

    # Subnets: for_each over the first two AZs of a data source; brokers: length of a module output.
    assert count("dev", "aws_subnet") == count("prod", "aws_subnet") == 2
    assert (
        count("dev", "aws_rds_cluster_instance"),
        count("prod", "aws_rds_cluster_instance"),
    ) == (
        1,
        2,
    )
    assert count("dev", "aws_db_proxy") == count("prod", "aws_db_proxy") == 0
    book = load_price_book(BOOK_PATH)
    dev = estimate_environment(ENVIRONMENTS / "dev", book)
    prod = estimate_environment(ENVIRONMENTS / "prod", book)
    assert any(line.item == "2 x kafka.t3.small" for line in dev.lines)
    assert any(line.item == "2 x kafka.m7g.large" for line in prod.lines)
    endpoint_items = {line.item for line in dev.lines if line.rtype == "aws_vpc_endpoint"}
    assert "secretsmanager endpoint x 1 AZ" in endpoint_items
    assert any(
        line.item == "secretsmanager endpoint x 2 AZ"
        for line in prod.lines
        if line.rtype == "aws_vpc_endpoint"
    )


def test_report_goes_to_stdout_without_write() -> None:
    code, output = run_cost("--infra", str(INFRA), "--env", "dev")
    assert code == 0, output
    assert output.startswith("# Cost model") and "## dev" in output and "## prod" not in output
