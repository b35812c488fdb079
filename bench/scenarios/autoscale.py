"""placeholder"""

from __future__ import annotations

from bench.context import BenchContext
from bench.results import ScenarioResult


def run(ctx: BenchContext) -> ScenarioResult:
    raise NotImplementedError
