"""Cost model: price every billable resource an environment's Terraform declares."""

from __future__ import annotations

from pathlib import Path

from dpp_cli.cost.errors import CostModelError, PriceBookError, TerraformReadError
from dpp_cli.cost.model import Estimate, Line, Workload, estimate
from dpp_cli.cost.pricing import PriceBook, load_price_book
from dpp_cli.cost.report import render
from dpp_cli.cost.stack import load_environment

__all__ = [
    "CostModelError",
    "Estimate",
    "Line",
    "PriceBook",
    "PriceBookError",
    "TerraformReadError",
    "Workload",
    "estimate",
    "estimate_environment",
    "load_environment",
    "load_price_book",
    "render",
]


def estimate_environment(env_dir: Path, book: PriceBook, load: Workload | None = None) -> Estimate:
    """Read one environment directory and price it."""
    return estimate(env_dir.name, load_environment(env_dir), book, load or Workload())
