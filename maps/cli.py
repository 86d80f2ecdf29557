"""`citygrid maps export heatmap|choropleth|hotspots … --out FILE.html`."""

from __future__ import annotations

import typer

maps_app = typer.Typer(help="Maps: standalone HTML exports.", no_args_is_help=True)
