"""`python -m bench run [--quick] [--scenario NAME]... [--baseline-ref REF [--rounds N]]`:
start a sandbox broker, measure each scenario against its baseline in the same run (and, with
--baseline-ref, against a worktree of an earlier commit, alternating the order over --rounds),
write bench/results/*.json and the table of docs/performance.md, stop the broker."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.baseline import BASELINE_SCENARIOS, baseline_worktree, compare
from bench.broker import sandbox_broker
from bench.context import BenchContext
from bench.environment import machine_info, software_versions
from bench.results import (
    RESULTS_DIR,
    latest_documents,
    markdown,
    update_performance_doc,
    write_json,
)
from bench.scenarios import SCENARIOS
from bench.server import TRACING_ENVIRONMENT, Subject, otlp_sink


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="measure scenarios")
    run.add_argument("--quick", action="store_true", help="tiny counts: checks, not numbers")
    run.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default all"
    )
    run.add_argument("--bootstrap", help="use this broker instead of starting a sandbox")
    run.add_argument(
        "--results-dir",
        type=Path,
        help=f"default {RESULTS_DIR} ({RESULTS_DIR / 'quick'} with --quick, git-ignored)",
    )
    run.add_argument("--no-profile", action="store_true", help="skip the profiling runs")
    run.add_argument(
        "--baseline-ref",
        metavar="REF",
        help="also run the scenarios whose subject is the API "
        f"({', '.join(sorted(BASELINE_SCENARIOS))}) against a git worktree of REF (its own uv "
        "venv) and report this checkout / REF; the others run once",
    )
    run.add_argument(
        "--rounds",
        type=_positive,
        default=1,
        metavar="N",
        help="with --baseline-ref: measure both sides N times, alternating who goes first "
        "(this checkout, then REF, ...), and judge the ratio on the rounds' geometric mean "
        "(default 1: this checkout first)",
    )
    run.add_argument(
        "--no-doc", action="store_true", help="do not rewrite docs/performance.md's table"
    )
    run.add_argument(
        "--tracing",
        action="store_true",
        help="run the API under test with DPP_TRACING=otlp, exporting to a local OTLP sink "
        f"(default: off); results go to {RESULTS_DIR / 'tracing'} unless --results-dir",
    )
    commands.add_parser("table", help="print the table of the latest results")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


@contextmanager
def _tracing(on: bool) -> Iterator[None]:
    if not on:
        yield
        return
    with otlp_sink() as url:
        TRACING_ENVIRONMENT.update(DPP_TRACING="otlp", OTEL_EXPORTER_OTLP_ENDPOINT=url)
        try:
            yield
        finally:
            TRACING_ENVIRONMENT.clear()
            TRACING_ENVIRONMENT["DPP_TRACING"] = "off"


@contextmanager
def _baseline(ref: str | None) -> Iterator[Subject | None]:
    if ref is None:
        yield None
        return
    with baseline_worktree(ref) as subject:
        yield subject


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "table":
        print(markdown(latest_documents()))
        return 0
    logging.basicConfig(level=logging.WARNING)
    names = args.scenario or list(SCENARIOS)
    if args.rounds > 1 and not args.baseline_ref:
        _parser().error("--rounds needs --baseline-ref (rounds alternate this checkout and REF)")
    if args.baseline_ref and not set(names) & BASELINE_SCENARIOS:
        _parser().error(
            f"--baseline-ref works with --scenario {' / '.join(sorted(BASELINE_SCENARIOS))}"
        )
    default_dir = RESULTS_DIR / "tracing" if args.tracing else RESULTS_DIR
    results_dir: Path = args.results_dir or (RESULTS_DIR / "quick" if args.quick else default_dir)
    machine, versions = machine_info(), software_versions()
    failed: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="dpp-bench-") as work,
        sandbox_broker(args.bootstrap) as bootstrap,
        _baseline(args.baseline_ref) as baseline,
        _tracing(args.tracing),
    ):
        ctx = BenchContext(bootstrap, args.quick, Path(work), profile=not args.no_profile)
        for name in names:
            print(f"== {name}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            load_before = [round(value, 2) for value in os.getloadavg()]
            try:
                if baseline is not None and name in BASELINE_SCENARIOS:
                    result = compare(SCENARIOS[name], ctx, baseline, args.rounds)
                else:
                    result = SCENARIOS[name](ctx)
            except Exception:
                traceback.print_exc()
                failed.append(name)
                continue
            result.duration_s = time.perf_counter() - started
            result.load_average = {
                "before": load_before,
                "after": [round(value, 2) for value in os.getloadavg()],
            }
            path = write_json(result.as_dict(machine, versions), results_dir)
            print(f"   wrote {path} ({result.duration_s:.0f}s)", file=sys.stderr, flush=True)
    if not args.no_doc and not args.quick and results_dir == RESULTS_DIR:
        update_performance_doc(latest_documents(results_dir))
    if failed:
        print(f"failed scenarios: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
