"""`bench run --baseline-ref REF`: the same scenario against a git worktree of an earlier commit
(its own `uv sync` virtualenv) in the same run, so "N x REF" is one command; its rows join the
scenario's result, each with the ratio this checkout / REF."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

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


def merge(result: ScenarioResult, baseline: ScenarioResult, subject: Subject) -> None:
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
    if result.scenario == "ingest-single":
        best = _best_single(result.rows, baseline_prefix=f"[{subject.label}] ")
        result.targets.append(
            Target(f"single event, best req/s: this checkout / {subject.label}", best,
                   TARGET_SINGLE_FACTOR, unit="x")
        )  # fmt: skip


def _best_single(rows: list[Row], baseline_prefix: str) -> float | None:
    def best(selected: list[Row]) -> float:
        return max((float(r.metrics["requests_per_s"] or 0) for r in selected), default=0.0)

    closed = [r for r in rows if "wrk -c" in r.case and "think time" not in r.case]
    theirs = best([r for r in closed if r.case.startswith(baseline_prefix)])
    mine = best([r for r in closed if not r.case.startswith("[")])
    return mine / theirs if theirs else None
