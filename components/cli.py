"""`citygrid components ...`: import and inspect the component inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.console import console, progress, reported_errors
from components.import_files import ComponentTable, PointColumns, read_components
from components.imports import import_components
from components.schemas import ImportResult

components_app = typer.Typer(help="The component inventory (部件): import.", no_args_is_help=True)


@components_app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="GeoJSON, GeoPackage, Shapefile (.shp, or a .zip holding one) or CSV.",
            exists=True,
            dir_okay=False,
        ),
    ],
    crs: Annotated[
        str | None,
        typer.Option(help="EPSG:4326, EPSG:4490, GCJ-02, BD-09 or EPSG:xxxx; default: the file's."),
    ] = None,
    lon_column: Annotated[
        str | None, typer.Option(help="CSV column of the longitude (default: lon, else x).")
    ] = None,
    lat_column: Annotated[
        str | None, typer.Option(help="CSV column of the latitude (default: lat, else y).")
    ] = None,
    update: Annotated[
        bool, typer.Option(help="Update components whose code exists instead of refusing them.")
    ] = False,
    encoding: Annotated[
        str | None,
        typer.Option(help="Text encoding of the file when it is not UTF-8: GBK, GB18030, Big5."),
    ] = None,
) -> None:
    """Import components; nothing is written unless every row passes every check."""
    with reported_errors():
        table = read_components(
            file,
            crs=crs,
            point_columns=PointColumns(lon=lon_column, lat=lat_column),
            encoding=encoding,
        )
    with db.open_session() as session, reported_errors():
        result = _import_with_progress(session, table, update=update)
        session.commit()
    console.print(summary(result), soft_wrap=True)


def _import_with_progress(session: Session, table: ComponentTable, *, update: bool) -> ImportResult:
    with progress(f"importing {len(table)} components") as show:
        return import_components(session, table, update=update, progress=show)


def summary(result: ImportResult) -> str:
    """One line saying what an import did."""
    line = (
        f"imported {result.rows} rows from {result.source_name} ({result.source_format}, "
        f"{result.source_crs}) as import {result.import_id}: {result.created} created"
    )
    if result.updated or result.unchanged:
        line += f", {result.updated} updated, {result.unchanged} unchanged"
    return line
