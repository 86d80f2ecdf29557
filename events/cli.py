"""`citygrid taxonomy ...`: load the component and event categories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from citygrid import db
from citygrid.console import console, reported_errors
from events.categories.service import load_taxonomy
from events.open311.seed import seed_service_attributes
from events.taxonomy import DEFAULT_TAXONOMY, read_taxonomy

taxonomy_app = typer.Typer(
    help="Component (部件) and event (事件) categories.", no_args_is_help=True
)


@taxonomy_app.command("load")
def load(
    file: Annotated[
        Path, typer.Argument(help="Taxonomy YAML (default: the one shipped with citygrid).")
    ] = DEFAULT_TAXONOMY,
    update: Annotated[
        bool, typer.Option(help="Also refresh existing categories' names and limits from FILE.")
    ] = False,
) -> None:
    """Add the categories of FILE that are missing; retired ones stay retired."""
    with reported_errors():
        taxonomy = read_taxonomy(file)
    with db.open_session() as session, reported_errors():
        counts = load_taxonomy(session, taxonomy, update=update)
        # The example questions (Open311 service attributes) of the shipped categories
        seed_service_attributes(session)
        session.commit()
    table = Table(title=f"categories in {file.name}")
    for column in ("kind", "level", "count"):
        table.add_column(column)
    for (kind, level), count in sorted(taxonomy.counts().items()):
        table.add_row(kind, level, str(count))
    console.print(table)
    console.print(
        f"{counts.inserted} added, {counts.updated} updated, {counts.unchanged} unchanged",
        highlight=False,
    )
