"""`citygrid grid ...`: import and generate the unit grid."""

from __future__ import annotations

import typer

grid_app = typer.Typer(help="The unit grid: import, generate.", no_args_is_help=True)
