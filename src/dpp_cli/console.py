"""The rich consoles every command prints through (results to stdout, progress to stderr)."""

from __future__ import annotations

from rich.console import Console

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    """Print a clear error and exit non-zero."""
    import typer  # noqa: PLC0415

    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)
