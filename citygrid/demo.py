"""`citygrid demo load`: the demo city (Dongcheng District) and one demo user per role."""

from __future__ import annotations

import typer

demo_app = typer.Typer(help="The demo city and demo users.", no_args_is_help=True)
