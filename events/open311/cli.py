"""`citygrid open311 …`: API keys of Open311 client applications."""

from __future__ import annotations

import typer

open311_app = typer.Typer(help="Open311 GeoReport v2: client API keys.", no_args_is_help=True)
