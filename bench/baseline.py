"""`bench run --baseline-ref REF [--rounds N]`: the same scenario against a git worktree of an
earlier commit (its own `uv sync` virtualenv) in the same run, so "N x REF" is one command; its
rows join the scenario's result, each with the ratio this checkout / REF. With several rounds the
order alternates (this checkout first, then REF first, ...) so that whoever runs second does not
always inherit a warmer broker: each round's ratio is reported, and the target is their
geometric mean."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path

from bench.context import BenchContext
from bench.results import Row, ScenarioResult, Target
from bench.server import REPO, Subject

# Scenarios whose subject is the producer API server, the part a baseline commit swaps in.
BASELINE_SCENARIOS = frozenset({"ingest-batch", "ingest-single"})
TARGET_SINGLE_FACTOR = 3.0
_RATE_METRICS = ("events_per_s", "requests_per_s")
_SERVER = re.compile(r"\b(uvicorn|granian) (workers=\d+)")


def _git(*args: str) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
    )
    return completed.stdout.strip()


@contextmanager
def baseline_worktree(ref: str) -> Iterator[Subject]:
    """A detached worktree of `ref` with its own virtualenv; removed at the end."""
    sha = _git("rev-parse", "--verify", "--short", f"{ref}^{{commit}}")
    folder = Path(tempfile.mkdtemp(prefix=f"dpp-bench-ref-{sha}-"))
    shutil.rmtree(folder)  # git worktree add wants to create it
    _git("worktree", "add", "--detach", "--quiet", str(folder), sha)
    try:
        environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        environment.pop("UV_PROJECT_ENVIRONMENT", None)
        print(f"   baseline {ref} ({sha}): uv sync in {folder}", file=sys.stderr, flush=True)
        subprocess.run(
            ["uv", "sync", "--all-packages", "--frozen", "--quiet"],
            cwd=folder, env=environment, check=True, timeout=900,
        )  # fmt: skip
        yield Subject(f"{ref} ({sha})", str(folder / ".venv" / "bin" / "python"), folder)
    finally:
        with suppress(subprocess.CalledProcessError):
            _git("worktree", "remove", "--force", str(folder))
        shutil.rmtree(folder, ignore_errors=True)
        with suppress(subprocess.CalledProcessError):
            _git("worktree", "prune")


def _comparable(case: str) -> str:
    """The case without the server's name: a granian row compares with a uvicorn row."""
    return _SERVER.sub(r"\2", case)


def _rate(metrics: dict[str, float | int | str | None]) -> float | None:
    for name in _RATE_METRICS:
        value = metrics.get(name)
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return None


def compare(
    scenario: Callable[[BenchContext], ScenarioResult],
    ctx: BenchContext,
    subject: Subject,
    rounds: int = 1,
) -> ScenarioResult:
    """Run `scenario` for this checkout and for `subject` `rounds` times, alternating who goes
    first; the first round's rows are the table's, every round adds its own ratio row."""
    ours: list[ScenarioResult] = []
    theirs: list[ScenarioResult] = []
    for index in range(rounds):
        ref_first = index % 2 == 1
        turns = [(theirs, replace(ctx, subject=subject, profile=False)),
                 (ours, replace(ctx, profile=ctx.profile and index == 0))]  # fmt: skip
        for results, context in turns if ref_first else reversed(turns):
            who = subject.label if results is theirs else "this checkout"
            print(f"   round {index + 1}/{rounds}: {who}", file=sys.stderr, flush=True)
            results.append(scenario(context))
    result = ours[0]
    merge(result, theirs[0], subject, single_target=rounds == 1)
    if rounds > 1:
        add_rounds(result, ours, theirs, subject)
    return result


def merge(
    result: ScenarioResult,
    baseline: ScenarioResult,
    subject: Subject,
    *,
    single_target: bool = True,
) -> None:
    """Append the baseline's rows as `[REF] case`; a row measured by both gets the ratio
    this checkout / REF of its rate."""
    ours = {_comparable(row.case): row for row in result.rows}
    for row in baseline.rows:
        mine = ours.get(_comparable(row.case))
        mine_rate = None if mine is None else _rate(mine.metrics)
        theirs = _rate(row.metrics)
        ratio = mine_rate / theirs if mine_rate and theirs else None
        result.add(
            f"[{subject.label}] {row.case}",
            baseline=None if ratio is None else "this checkout / it",
            ratio=ratio,
            **row.metrics,
        )
    result.parameters["baseline_ref"] = subject.label
    result.notes.append(
        f"Rows marked [{subject.label}] ran that commit's producer API (a git worktree with "
        "its own virtualenv) through the same scenario code in this run; their ratio is this "
        "checkout's rate divided by theirs."
    )
    if result.scenario == "ingest-single" and single_target:
        best = _best_single(result.rows, baseline_prefix=f"[{subject.label}] ")
        result.targets.append(
            Target(f"single event, best req/s: this checkout / {subject.label}", best,
                   TARGET_SINGLE_FACTOR, unit="x")
        )  # fmt: skip


def add_rounds(
    result: ScenarioResult,
    ours: list[ScenarioResult],
    theirs: list[ScenarioResult],
    subject: Subject,
) -> None:
    """One row per round: the best rate of each side, their ratio, and the geometric mean of
    the ratios of the rows both sides measured; the single-event target takes the geometric
    mean of the rounds' best-rate ratios."""
    best_ratios: list[float] = []
    for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        mine_best, other_best = _best_rate(mine.rows), _best_rate(other.rows)
        best = mine_best / other_best if mine_best and other_best else None
        if best is not None:
            best_ratios.append(best)
        first = subject.label if index % 2 else "this checkout"
        result.add(
            f"round {index + 1} of {len(ours)}, {first} first: best rate, this checkout / "
            f"{subject.label}",
            baseline="this checkout / it",
            ratio=best,
            this_checkout=mine_best,
            baseline_commit=other_best,
            rows_compared=len(row_ratios := _row_ratios(mine.rows, other.rows)),
            geometric_mean_of_rows=_geometric_mean(row_ratios),
        )
    result.parameters["rounds"] = len(ours)
    result.parameters["round_rows"] = [
        {"round": index + 1, "this_checkout": _rates_of(mine), subject.label: _rates_of(other)}
        for index, (mine, other) in enumerate(zip(ours, theirs, strict=True))
    ]
    result.notes.append(
        f"{len(ours)} rounds against {subject.label}, alternating who runs first; the detailed "
        "rows are round 1's, the round rows compare each round's best rates (open- and "
        "closed-loop rows at half rate are left out: they follow the best rate)."
    )
    if result.scenario == "ingest-single":
        result.targets.append(
            Target(
                f"single event, best req/s: this checkout / {subject.label} "
                f"(geometric mean of {len(best_ratios)} rounds)",
                _geometric_mean(best_ratios), TARGET_SINGLE_FACTOR, unit="x",
            )
        )  # fmt: skip


def _measured_rows(rows: list[Row]) -> dict[str, float]:
    """The API's own rate rows by comparable case (the faster server where two share one): no
    raw baseline, no half-rate rows."""
    rates: dict[str, float] = {}
    for row in rows:
        if row.case.startswith(("raw", "baseline", "[")) or "loop at" in row.case:
            continue
        rate = _rate(row.metrics)
        if rate is not None:
            case = _comparable(row.case)
            rates[case] = max(rate, rates.get(case, rate))
    return rates


def _rates_of(result: ScenarioResult) -> dict[str, float | None]:
    """Every row's rate, so the rounds after the first keep their detail in the JSON."""
    return {
        row.case: _rate(row.metrics)
        for row in result.rows
        if not row.case.startswith(("[", "round "))  # the merged rows of round 1
    }


def _best_rate(rows: list[Row]) -> float | None:
    return max(_measured_rows(rows).values(), default=None)


def _row_ratios(mine: list[Row], other: list[Row]) -> list[float]:
    theirs = _measured_rows(other)
    return [rate / theirs[case] for case, rate in _measured_rows(mine).items() if case in theirs]


def _geometric_mean(values: list[float]) -> float | None:
    if not values:
        return None
    return math.exp(sum(math.log(value) for value in values) / len(values))


def _best_single(rows: list[Row], baseline_prefix: str) -> float | None:
    def best(selected: list[Row]) -> float:
        return max((float(r.metrics["requests_per_s"] or 0) for r in selected), default=0.0)

    closed = [r for r in rows if "wrk -c" in r.case and "think time" not in r.case]
    theirs = best([r for r in closed if r.case.startswith(baseline_prefix)])
    mine = best([r for r in closed if not r.case.startswith("[")])
    return mine / theirs if theirs else None
