"""Offline checks of infra/ and the workflows: fmt, TFLint, checkov, shellcheck, actionlint."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.infra.toolchain import INFRA, REPO_ROOT, TOOLS_BIN, require_tool

SCRIPTS = sorted((INFRA / "scripts").glob("*.sh")) + sorted((INFRA / "tools").glob("*.sh"))
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def run(
    cmd: list[str], env: dict[str, str], timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_terraform_fmt_check(tool_env: dict[str, str]) -> None:
    terraform = require_tool("terraform")
    result = run([terraform, "fmt", "-check", "-recursive", "-diff", str(INFRA)], tool_env)
    assert result.returncode == 0, (
        f"terraform fmt found unformatted files:\n{result.stdout}{result.stderr}"
    )


def test_tflint_passes_on_every_module_and_environment(tool_env: dict[str, str]) -> None:
    tflint = require_tool("tflint")
    result = run(
        [
            tflint,
            f"--chdir={INFRA}",
            "--recursive",
            f"--config={INFRA / '.tflint.hcl'}",
            "--format=compact",
        ],
        tool_env,
    )
    assert result.returncode == 0, f"tflint:\n{result.stdout}{result.stderr}"


def test_tflint_reports_a_seeded_defect(tool_env: dict[str, str], tmp_path: Path) -> None:
    """Guard against a silently disabled linter: an undocumented, untyped variable must fail."""
    tflint = require_tool("tflint")
    work = tmp_path
    (work / "main.tf").write_text('variable "x" {}\n', encoding="utf-8")
    result = run(
        [tflint, f"--chdir={work}", f"--config={INFRA / '.tflint.hcl'}", "--format=compact"],
        tool_env,
    )
    assert result.returncode != 0
    assert "terraform_typed_variables" in result.stdout + result.stderr


def test_checkov_has_no_failed_checks(tool_env: dict[str, str]) -> None:
    checkov = require_tool("checkov")
    result = run(
        [
            checkov,
            "-d",
            str(INFRA),
            "--framework",
            "terraform",
            "--quiet",
            "--skip-download",
            "--output",
            "json",
        ],
        tool_env,
        timeout=900,
    )
    assert result.stdout.strip(), f"checkov printed nothing:\n{result.stderr}"
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{c['check_id']} {c['resource']} {c['file_path']}:{c['file_line_range']}"
        for report in reports
        for c in report.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "checkov findings:\n" + "\n".join(failed)
    assert sum(r["summary"]["passed"] for r in reports) > 100
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports)


def test_every_checkov_skip_states_a_reason() -> None:
    skips = 0
    for path in INFRA.rglob("*.tf"):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = SKIP_COMMENT.search(line)
            if match:
                skips += 1
                reason = (match.group(2) or "").strip()
                assert len(reason) >= 15, f"{path}:{lineno}: checkov skip without a reason"
    assert skips > 0


def test_shell_scripts_are_shellcheck_clean(tool_env: dict[str, str]) -> None:
    shellcheck = require_tool("shellcheck")
    assert SCRIPTS, "no scripts found"
    result = run([shellcheck, "--severity=style", *map(str, SCRIPTS)], tool_env)
    assert result.returncode == 0, f"shellcheck:\n{result.stdout}{result.stderr}"


def test_scripts_are_strict_and_executable() -> None:
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        assert text.startswith("#!/usr/bin/env bash"), script
        assert "set -euo pipefail" in text, script
        assert script.stat().st_mode & 0o111, f"{script} is not executable"


def test_workflows_pass_actionlint(tool_env: dict[str, str]) -> None:
    actionlint = require_tool("actionlint")
    shellcheck = require_tool("shellcheck")
    workflows = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    result = run([actionlint, f"-shellcheck={shellcheck}", *map(str, workflows)], tool_env)
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"


def test_install_script_is_quiet_when_tools_are_present(tool_env: dict[str, str]) -> None:
    for tool in ("tflint", "actionlint", "shellcheck", "checkov", "terraform"):
        require_tool(tool)
    result = run(["bash", str(INFRA / "tools" / "install.sh")], tool_env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_terraform_validate_with_the_built_provider(tool_env: dict[str, str]) -> None:
    """Runs when the AWS provider was built (an hour on 2 cores, so not an install.sh step)."""
    require_tool("terraform")
    mirror = TOOLS_BIN.parent / "terraform-plugins" / "registry.terraform.io" / "hashicorp" / "aws"
    if not list(mirror.glob("*/linux_amd64/terraform-provider-aws_v*")):
        pytest.skip(
            "AWS provider not built: run infra/tools/build-aws-provider.sh (see docs/infra.md)"
        )
    result = run(
        ["bash", str(INFRA / "tools" / "verify-with-moto.sh"), "--validate-only"], tool_env, 900
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok      ") == len(list((INFRA / "modules").iterdir())) + len(
        list((INFRA / "environments").iterdir())
    )
