"""`citygrid components ...`: import and inspect the component inventory."""

from __future__ import annotations

import typer

from citygrid import db

components_app = typer.Typer(help="The component inventory (部件): import.", no_args_is_help=True)
open_session = db.open_session
