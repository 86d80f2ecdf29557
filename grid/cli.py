"""`citygrid grid ...`: import and generate the unit grid."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import shapely
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.console import fail, reported_errors
from citygrid.errors import Conflict
from citygrid.settings import get_settings
from grid import service
from grid.codes import GridLevel
from grid.generate import GridLayout, generate_grid
from grid.imports import ImportOptions, ImportReport, UnitFeature, import_units, read_features

grid_app = typer.Typer(help="The unit grid: import, generate.", no_args_is_help=True)
console = Console()


def import_options(*, repair: bool = False) -> ImportOptions:
    settings = get_settings()
    return ImportOptions(
        repair=repair,
        overlap_tolerance_m2=settings.overlap_tolerance_m2,
        gap_tolerance_m2=settings.gap_tolerance_m2,
    )


@grid_app.command("generate")
def generate(
    boundary: Annotated[
        Path, typer.Option(help="District boundary (GeoJSON, GeoPackage, Shapefile).", exists=True)
    ],
    district_code: Annotated[str, typer.Option(help="6-digit administrative division code.")],
    district_name: Annotated[str, typer.Option(help="District name.")] = "",
    crs: Annotated[
        str | None, typer.Option(help="CRS of the boundary: EPSG:4326, GCJ-02, BD-09, EPSG:xxxx.")
    ] = None,
    cell_size: Annotated[float, typer.Option(help="Cell side in metres.", min=10)] = 100.0,
    community_size: Annotated[int, typer.Option(help="Cells per community side.", min=1)] = 5,
    street_size: Annotated[int, typer.Option(help="Communities per street side.", min=1)] = 3,
    sliver_ratio: Annotated[
        float, typer.Option(help="Clipped cells below this share of a full cell are merged.")
    ] = 0.25,
) -> None:
    """Cut a boundary into square cells grouped in communities and streets, with standard codes."""
    with reported_errors():
        features = read_features(boundary, crs=crs)
    geometries = [feature.geometry for feature in features if feature.geometry is not None]
    if not geometries:
        raise fail(f"{boundary} holds no readable boundary")

    layout = GridLayout(cell_size, community_size, street_size, sliver_ratio)
    with db.open_session() as session, reported_errors():
        if service.district_exists(session, district_code):
            raise Conflict(f"district {district_code} exists already", field="district_code")
        generated = generate_grid(
            shapely.union_all(geometries),
            district_code=district_code,
            district_name=district_name or features[0].name or district_code,
            layout=layout,
        )
        written = service.write_generated_grid(session, generated, import_options())
        session.commit()
    summary = ", ".join(f"{count} {level}" for level, count in written.items())
    console.print(f"generated {summary}")


@grid_app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="GeoJSON, GeoPackage, or Shapefile (.shp, or a .zip holding one).",
            exists=True,
            dir_okay=False,
        ),
    ],
    level: Annotated[GridLevel, typer.Option(help="The level of every unit in the file.")],
    crs: Annotated[
        str | None,
        typer.Option(help="EPSG:4326, EPSG:4490, GCJ-02, BD-09 or EPSG:xxxx; default: the file's."),
    ] = None,
    code_field: Annotated[str, typer.Option(help="Field holding the unit code.")] = "code",
    name_field: Annotated[str, typer.Option(help="Field holding the unit name.")] = "name",
    parent_field: Annotated[
        str | None, typer.Option(help="Field holding the parent's code (default: code prefix).")
    ] = None,
    repair: Annotated[
        bool, typer.Option(help="Repair invalid geometries (ST_MakeValid) instead of refusing.")
    ] = False,
) -> None:
    """Import units of one level; nothing is written unless every feature passes every check."""
    with reported_errors():
        features = read_features(
            file, crs=crs, code_field=code_field, name_field=name_field, parent_field=parent_field
        )
    with db.open_session() as session, reported_errors():
        report = _import_with_progress(session, level, features, import_options(repair=repair))
        session.commit()
    _print_import_report(report, file)


def _import_with_progress(
    session: Session, level: GridLevel, features: list[UnitFeature], options: ImportOptions
) -> ImportReport:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(f"importing {len(features)} {level} units", total=None)

        def show(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        return import_units(session, level, features, options, progress=show)


def _print_import_report(report: ImportReport, file: Path) -> None:
    repaired = f", {report.repaired} repaired" if report.repaired else ""
    console.print(f"imported {report.written} {report.level} units from {file.name}{repaired}")
    if not report.warnings:
        return
    table = Table(title=f"{len(report.warnings)} gap warnings (written anyway)")
    for column in ("parent", "gap m²", "lon", "lat"):
        table.add_column(column)
    for warning in report.warnings:
        table.add_row(
            f"{warning['parent_level']} {warning['parent_code']}",
            f"{warning['area_m2']:.1f}",
            f"{warning['lon']:.6f}",
            f"{warning['lat']:.6f}",
        )
    console.print(table)
