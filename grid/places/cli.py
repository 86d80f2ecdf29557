"""`citygrid places ...`: import a gazetteer, and try the address matcher."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from citygrid import db
from citygrid.console import console, reported_errors
from citygrid.settings import get_settings
from grid.places.imports import read_places, write_places
from grid.places.service import match_address

places_app = typer.Typer(
    help="The address gazetteer (standard addresses, points of interest) and the matcher.",
    no_args_is_help=True,
)


@places_app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (name, lon, lat, optional kind) or GeoJSON of points (name, kind).",
            exists=True,
            dir_okay=False,
        ),
    ],
    district: Annotated[str, typer.Option(help="The district's code, e.g. 110101.")] = "110101",
    datum: Annotated[
        str, typer.Option(help="Datum of the coordinates: wgs84, gcj02 (AMap) or bd09 (Baidu).")
    ] = "wgs84",
    encoding: Annotated[
        str | None,
        typer.Option(help="Text encoding of the file when it is not UTF-8: GBK, GB18030, Big5."),
    ] = None,
) -> None:
    """Import places; nothing is written unless every row passes every check."""
    with reported_errors():
        rows = read_places(file, datum=datum, encoding=encoding)
    with db.open_session() as session, reported_errors():
        report = write_places(session, rows, district_code=district, source=file.name)
        session.commit()
    console.print(
        f"{report.added} places added, {report.already_there} already in the gazetteer",
        soft_wrap=True,
    )


@places_app.command("match")
def match(
    address: Annotated[str, typer.Argument(help="An address as written, e.g. 东四北大街5号院.")],
    district: Annotated[str | None, typer.Option(help="Only this district's places.")] = None,
) -> None:
    """Print the candidates for an address, best first, and whether it would be located."""
    threshold = get_settings().address_match_threshold
    with db.open_session() as session, reported_errors():
        found = match_address(session, address, district_code=district, threshold=threshold)
    table = Table(title=f"{address} (located at confidence ≥ {threshold})")
    for column in ("place", "confidence", "cell", "lon, lat"):
        table.add_column(column)
    for candidate in found.candidates:
        table.add_row(
            candidate.label,
            f"{candidate.confidence:.2f}",
            str(candidate.cell_id or ""),
            f"{candidate.lon:.6f}, {candidate.lat:.6f}",
        )
    console.print(table)
    console.print(
        f"located: {found.located.label}" if found.located else "not located: to be located"
    )
