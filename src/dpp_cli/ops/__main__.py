"""`python -m dpp_cli.ops`: the ops service without going through `dpp` (same options)."""

from __future__ import annotations

import typer

from dpp_cli.commands.ops import serve

if __name__ == "__main__":
    typer.run(serve)
