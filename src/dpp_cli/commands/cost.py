"""`dpp infra cost`: the monthly cost of each environment from its Terraform, as docs/cost.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dpp_cli.console import err, fail, out

app = typer.Typer(help="Infrastructure tools (Terraform under infra/).", no_args_is_help=True)

INFRA = Path("infra")


@app.command()
def cost(
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env", help="Environment under infra/environments (repeatable; default: all)."
        ),
    ] = None,
    write: Annotated[
        Path | None,
        typer.Option("--write", help="Write the Markdown report here (e.g. docs/cost.md)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Fail when a billable resource has no price entry; with --write, also when "
            "that file differs from the generated report (nothing is written).",
        ),
    ] = False,
    infra: Annotated[
        Path, typer.Option("--infra", help="Terraform root (run from the repository root).")
    ] = INFRA,
    region: Annotated[
        str, typer.Option("--region", help="Price book infra/pricing/<region>.json.")
    ] = "us-east-1",
) -> None:
    """Price every billable resource of the environments, idle and under the stated load.

    Phase 1 (serverless base) and phase 2 (event pair) are totalled separately and phase 1 dev
    is compared with the migration guide's ~$21 a month.
    """
    from dpp_cli.cost import (  # noqa: PLC0415 - keeps `dpp --help` instant
        CostModelError,
        Workload,
        estimate_environment,
        load_price_book,
        render,
    )

    environments = infra / "environments"
    names = env or sorted(p.name for p in environments.iterdir() if p.is_dir())
    try:
        book = load_price_book(infra / "pricing" / f"{region}.json")
        estimates = [estimate_environment(environments / name, book) for name in names]
    except CostModelError as exc:
        fail(str(exc))
    report = render(estimates, book, Workload())
    problems = [f"{e.environment}: {p}" for e in estimates for p in e.unpriced]
    for problem in problems:
        err.print(f"[red]unpriced[/] {problem}")
    if write is None:
        out.print(report, markup=False, highlight=False, soft_wrap=True)
    elif check:
        current = write.read_text(encoding="utf-8") if write.is_file() else ""
        if current != report:
            fail(f"{write} is out of date: run `uv run dpp infra cost --write {write}`")
    else:
        write.write_text(report, encoding="utf-8")
        out.print(f"wrote {write}")
    if check and problems:
        fail(f"{len(problems)} billable resource(s) without a price entry")
    for e in estimates:
        err.print(
            f"{e.environment}: phase 1 idle ${e.total(1, 'idle'):,.2f}, "
            f"phase 2 idle ${e.total(2, 'idle'):,.2f} a month"
        )
