"""What every `citygrid` command shares: the consoles, and domain errors turned into messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.table import Table

from citygrid.errors import CitygridError, ImportRejected

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """An exit with the message on stderr; raise what it returns."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def print_rejection(error: ImportRejected) -> None:
    """Every problem of a rejected import as a table: index, code, reason."""
    table = Table(title=error.message)
    for column in ("index", "code", "reason"):
        table.add_column(column)
    for problem in error.problems:
        table.add_row(
            str(problem.get("index", "")), str(problem.get("code") or ""), problem["reason"]
        )
    err_console.print(table)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a domain error into a readable message on stderr and exit status 1."""
    try:
        yield
    except ImportRejected as error:
        print_rejection(error)
        raise typer.Exit(1) from error
    except CitygridError as error:
        raise fail(error.message) from error
