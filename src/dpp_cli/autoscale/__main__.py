"""`python -m dpp_cli.autoscale`: the local autoscaler without going through `dpp`."""

from __future__ import annotations

import typer

from dpp_cli.commands.autoscale import autoscale

if __name__ == "__main__":
    typer.run(autoscale)
