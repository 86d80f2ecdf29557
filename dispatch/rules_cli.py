"""`citygrid dispatch rules …`: load, show and simulate routing rule sets."""

from __future__ import annotations

import typer

rules_app = typer.Typer(help="Routing rule sets.", no_args_is_help=True)
