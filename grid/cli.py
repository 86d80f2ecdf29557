"""`citygrid grid ...`: import and generate the unit grid."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.console import console, err_console, fail, progress, reported_errors
from citygrid.errors import Conflict
from citygrid.settings import get_settings
from grid import generate_write, service
from grid import reset as grid_reset
from grid.codes import GridLevel
from grid.generate import (
    DEFAULT_COMMUNITY_AREA_KM2,
    boundary_district,
    layout_for,
    plan_grid,
)
from grid.imports import ImportOptions, ImportReport, UnitFeature, import_units, read_features

grid_app = typer.Typer(help="The unit grid: import, generate.", no_args_is_help=True)


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
    district_code: Annotated[
        str | None,
        typer.Option(help="6-digit administrative division code; default: the code field's."),
    ] = None,
    district_name: Annotated[
        str | None, typer.Option(help="District name; wins over the name field.")
    ] = None,
    code_field: Annotated[
        str, typer.Option(help="Field holding the district code (e.g. adcode).")
    ] = "code",
    name_field: Annotated[
        str, typer.Option(help="Field holding the district name (e.g. name_zh).")
    ] = "name",
    crs: Annotated[
        str | None, typer.Option(help="CRS of the boundary: EPSG:4326, GCJ-02, BD-09, EPSG:xxxx.")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="Text encoding of the file when it is not UTF-8: GBK, GB18030, Big5."),
    ] = None,
    cell_size: Annotated[float, typer.Option(help="Cell side in metres.", min=10)] = 100.0,
    community_area: Annotated[
        float, typer.Option(help="Community area in km² (whole cells: 0.25 = 5×5 of 100 m).")
    ] = DEFAULT_COMMUNITY_AREA_KM2,
    street_area: Annotated[
        float | None,
        typer.Option(
            help="Street area in km² (whole communities); default: about 15 streets of 2-15 km², "
            "larger when the code's 999 streets would not cover the district."
        ),
    ] = None,
    community_size: Annotated[
        int | None, typer.Option(help="Cells per community side (instead of --community-area).")
    ] = None,
    street_size: Annotated[
        int | None, typer.Option(help="Communities per street side (instead of --street-area).")
    ] = None,
    sliver_ratio: Annotated[
        float, typer.Option(help="Clipped cells below this share of a full cell are merged.")
    ] = 0.25,
) -> None:
    """Cut a boundary into square cells grouped in communities and streets, with standard codes."""
    with reported_errors():
        features = read_features(
            boundary, crs=crs, code_field=code_field, name_field=name_field, encoding=encoding
        )
        district = boundary_district(
            features,
            code=district_code,
            name=district_name,
            code_field=code_field,
            name_field=name_field,
        )
        layout = layout_for(
            district.geometry,
            cell_size_m=cell_size,
            community_area_km2=community_area,
            street_area_km2=street_area,
            community_size=community_size,
            street_size=street_size,
            sliver_ratio=sliver_ratio,
        )
        plan = plan_grid(
            district.geometry,
            district_code=district.code,
            district_name=district.name,
            layout=layout,
        )
    if district.warning:
        err_console.print(f"warning: {district.warning}", highlight=False, soft_wrap=True)
    console.print(
        f"district {district.code} {district.name}: {layout.describe()}; "
        f"about {plan.cell_estimate:,} cells",
        highlight=False,
        soft_wrap=True,
    )
    with (
        db.open_session() as session,
        reported_errors(),
        progress("checking the district") as show,
    ):
        if service.district_exists(session, district.code):
            raise Conflict(f"district {district.code} exists already", field="district_code")
        written = generate_write.write_grid(session, plan, import_options(), show)
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
    encoding: Annotated[
        str | None,
        typer.Option(help="Text encoding of the file when it is not UTF-8: GBK, GB18030, Big5."),
    ] = None,
) -> None:
    """Import units of one level; nothing is written unless every feature passes every check."""
    with reported_errors():
        features = read_features(
            file,
            crs=crs,
            code_field=code_field,
            name_field=name_field,
            parent_field=parent_field,
            encoding=encoding,
        )
    with db.open_session() as session, reported_errors():
        report = _import_with_progress(session, level, features, import_options(repair=repair))
        session.commit()
    _print_import_report(report, file)


def _import_with_progress(
    session: Session, level: GridLevel, features: list[UnitFeature], options: ImportOptions
) -> ImportReport:
    with progress(f"importing {len(features)} {level} units") as show:
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


# --- reset and locate (issue 16) -----------------------------------------------------------------


@grid_app.command("reset")
def reset(
    district: Annotated[str, typer.Option(help="Code of the district whose grid is emptied.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a district's cells, communities, streets and the district itself, to import it anew.

    Refused while cases lie in its cells (a case must keep its cell and case history is
    append-only) or routing rules name its units; components lose their cell link.
    """
    with db.open_session() as session, reported_errors():
        plan = grid_reset.plan_reset(session, district)
        if plan.blockers:
            for blocker in plan.blockers:
                console.print(f"- {blocker}", highlight=False, soft_wrap=True)
            raise fail(f"district {district} cannot be reset: nothing was removed")
        console.print(
            f"district {plan.code} {plan.name}: removes {plan.removed()}; clears {plan.links()} "
            "(the components stay, without a cell until `components import --update` links them)",
            highlight=False,
            soft_wrap=True,
        )
        if not yes and not typer.confirm("remove them?", default=False):
            raise fail("nothing was removed")
        done = grid_reset.reset_district(session, district)
        session.commit()
    console.print(
        f"removed {done.removed()}; cleared {done.links()}", highlight=False, soft_wrap=True
    )


@grid_app.command("locate")
def locate(
    lon: Annotated[float, typer.Argument(help="Longitude (or x in a projected CRS).")],
    lat: Annotated[float, typer.Argument(help="Latitude (or y in a projected CRS).")],
    crs: Annotated[
        str, typer.Option(help="EPSG:4326 (default), EPSG:4490, GCJ-02, BD-09, EPSG:xxxx.")
    ] = "EPSG:4326",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the API's JSON answer instead of a table.")
    ] = False,
) -> None:
    """The cell containing a point, with its community, street and district (as the API).

    Negative coordinates go after `--`: citygrid grid locate -- -0.12 51.5
    """
    with db.open_session() as session, reported_errors():
        located = service.locate_one(
            session, lon, lat, crs=crs, snap_m=get_settings().locate_snap_m
        )
    if as_json:
        console.print_json(located.model_dump_json())
        return
    table = Table(show_header=False)
    table.add_row("cell", located.cell.code, f"{located.cell.name} ({located.cell.area_m2:.0f} m²)")
    for level in ("community", "street", "district"):
        unit = getattr(located, level)
        table.add_row(level, unit.code, unit.name)
    where = f"{located.lon:.7f}, {located.lat:.7f}"
    snapped = f"snapped {located.distance_m:.1f} m" if located.snapped else "inside"
    table.add_row("WGS-84", where, snapped)
    console.print(table)
