"""`dpp sandbox`: placeholder until the sandbox lands."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
