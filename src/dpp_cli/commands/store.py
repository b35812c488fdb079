"""`dpp store`: maintenance of the job store (purge expired idempotency keys)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from dpp_cli.console import err, fail

app = typer.Typer(help="Job store maintenance.", no_args_is_help=True)


@app.command()
def purge(
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Delete expired idempotency keys from DATABASE_URL now.

    `dpp ops serve` does the same every DPP_OPS_PURGE_INTERVAL_S (default 900 s); run this from
    cron where no ops service runs. Exit code: 0 done, 1 the store could not be reached.
    """
    from dpp_ops.purge import IdempotencyPurger  # noqa: PLC0415 - keep --help instant
    from dpp_shared.settings import database_settings  # noqa: PLC0415
    from dpp_store import IdempotencyStore  # noqa: PLC0415

    with IdempotencyStore.from_url(database_settings().database_url, pool_size=1) as store:
        run = IdempotencyPurger(store, every_s=1.0).run_once()
    if as_json:
        print(json.dumps(run.as_dict()))
    if run.error is not None:
        fail(f"purge failed: {run.error}")
    if not as_json:
        err.print(
            f"purged {run.deleted} expired idempotency key(s) in {run.duration_s * 1000:.0f} ms"
        )
