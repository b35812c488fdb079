"""`bench run --baseline-ref REF --rounds N`: the rounds alternate who runs first, and the
ratios come from each round's own pair of runs (the scenario here is a plain function that
returns rates, so the order and the arithmetic are checked without a broker)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bench.baseline import compare
from bench.context import BenchContext
from bench.results import ScenarioResult
from bench.server import Subject

REF = Subject("old (abc1234)", "/nonexistent/python", Path("/nonexistent"))


def _scenario(
    calls: list[str], rates: dict[tuple[str, int], float]
) -> tuple[BenchContext, Callable[[BenchContext], ScenarioResult]]:
    """A scenario whose rate depends on the side and on its position in the run."""

    def run(ctx: BenchContext) -> ScenarioResult:
        side = "ref" if ctx.subject is REF else "ours"
        calls.append(side)
        result = ScenarioResult("ingest-single", "t", "cmd", {})
        rate = rates[(side, len(calls))]
        result.add("raw producer", requests_per_s=99_999.0)
        result.add("wrk -c 32, uvicorn workers=2", requests_per_s=rate, p99_ms=5.0)
        result.add("wrk -c 32, granian workers=2", requests_per_s=rate * 0.9)
        result.add("wrk -c 8, uvicorn workers=2", requests_per_s=rate / 2)
        result.add("open loop at half the max rate, uvicorn workers=2", requests_per_s=rate / 2)
        return result

    return BenchContext("127.0.0.1:1", quick=True, work_dir=Path("/tmp")), run


def test_rounds_alternate_who_goes_first_and_judge_the_geometric_mean() -> None:
    calls: list[str] = []
    # A warm-up effect: whoever runs second in a round gets 25 % more.
    rates = {("ours", 1): 4000.0, ("ref", 2): 2500.0, ("ref", 3): 2000.0, ("ours", 4): 5000.0}
    ctx, run = _scenario(calls, rates)

    result = compare(run, ctx, REF, rounds=2)

    assert calls == ["ours", "ref", "ref", "ours"]
    rounds = [row for row in result.rows if row.case.startswith("round ")]
    assert [row.case.split(":")[0] for row in rounds] == [
        "round 1 of 2, this checkout first",
        f"round 2 of 2, {REF.label} first",
    ]
    assert [row.ratio for row in rounds] == [1.6, 2.5]
    assert rounds[0].metrics["rows_compared"] == 2, "raw and half-rate rows are left out"
    assert rounds[1].metrics["this_checkout"] == 5000.0, "the faster server's row is the best"
    assert set(result.parameters["round_rows"][0]["this_checkout"]) == {
        "raw producer",
        "wrk -c 32, uvicorn workers=2",
        "wrk -c 32, granian workers=2",
        "wrk -c 8, uvicorn workers=2",
        "open loop at half the max rate, uvicorn workers=2",
    }, "round 1's own rows only, not the merged [REF] and round rows"
    detail = result.parameters["round_rows"][1]
    assert detail["this_checkout"]["wrk -c 32, granian workers=2"] == 4500.0
    assert detail[REF.label]["wrk -c 32, uvicorn workers=2"] == 2000.0
    (target,) = result.targets
    assert "geometric mean of 2 rounds" in target.name
    assert target.value == pytest.approx((1.6 * 2.5) ** 0.5)
    assert any(row.case.startswith(f"[{REF.label}] wrk -c 32") for row in result.rows)


def test_one_round_keeps_this_checkout_first_and_the_single_ratio() -> None:
    calls: list[str] = []
    ctx, run = _scenario(calls, {("ours", 1): 3000.0, ("ref", 2): 1000.0})

    result = compare(run, ctx, REF)

    assert calls == ["ours", "ref"]
    assert not [row for row in result.rows if row.case.startswith("round ")]
    (target,) = result.targets
    assert target.value == pytest.approx(3.0)
    assert target.met
