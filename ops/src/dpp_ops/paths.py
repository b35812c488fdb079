"""Where the local stack keeps its state: `$DPP_HOME`, else `.dpp/` in the current directory."""

from __future__ import annotations

import os
from pathlib import Path


def dpp_home() -> Path:
    return Path(os.environ.get("DPP_HOME", ".dpp")).resolve()


def sandbox_home() -> Path:
    return dpp_home() / "sandbox"
