"""Repository paths of the infrastructure and the offline checker tools the tests run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
MODULES = INFRA / "modules"
ENVIRONMENTS = INFRA / "environments"
TOOLS_BIN = Path(os.environ.get("DPP_TOOLS_HOME", Path.home() / ".cache" / "dpp" / "tools")) / "bin"
INSTALL_HINT = "run `bash infra/tools/install.sh` (installs into ~/.cache/dpp/tools/bin)"


def find_tool(name: str) -> str | None:
    """Return the path of a checker, preferring the project's tool cache over PATH."""
    cached = TOOLS_BIN / name
    if cached.exists() and os.access(cached, os.X_OK):
        return str(cached)
    return shutil.which(name)


def require_tool(name: str) -> str:
    """Path of a tool; a missing tool fails the test under CI and skips it locally."""
    path = find_tool(name)
    if path is None:
        message = f"{name} is not installed: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def tool_env() -> dict[str, str]:
    """Environment for running the checkers: tool cache first on PATH, no user CLI config."""
    env = dict(os.environ)
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("TF_CLI_CONFIG_FILE", None)
    env["CHECKPOINT_DISABLE"] = "1"
    env["TF_IN_AUTOMATION"] = "1"
    return env
