"""`citygrid maps export heatmap|choropleth|hotspots … --out FILE.html`: standalone map files."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.console import progress
from citygrid.errors import CitygridError
from citygrid.i18n import DEFAULT_LANGUAGE, LANGUAGES
from citygrid.settings import get_settings
from maps.schemas import ChoroplethOptions, MapFilters, Metric, Unit

# The map modules (folium, mapclassify, scipy) are imported by the export command only: every
# other `citygrid` command would otherwise spend seconds importing them at start-up.

maps_app = typer.Typer(help="Maps: standalone HTML exports.", no_args_is_help=True)


class Layer(enum.StrEnum):
    HEATMAP = "heatmap"
    CHOROPLETH = "choropleth"
    HOTSPOTS = "hotspots"


def parse_moment(
    value: str | None, *, default: datetime, name: str, zone: tzinfo = UTC
) -> datetime:
    """An ISO date or datetime (in `zone`, the city's, when it names none), or the default."""
    if value is None:
        return default
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date or datetime", param_hint=name
        ) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


@maps_app.command("export")
def export(
    layer: Annotated[Layer, typer.Argument(help="Which map.")],
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.", dir_okay=False)],
    period_from: Annotated[
        str | None, typer.Option("--from", help="Default: 30 days ago. City time unless zoned.")
    ] = None,
    period_to: Annotated[
        str | None, typer.Option("--to", help="Default: now. City time unless zoned.")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Minor or major category code.")] = None,
    status: Annotated[list[str] | None, typer.Option(help="Case status (repeatable).")] = None,
    urgency: Annotated[str | None, typer.Option(help="normal or urgent.")] = None,
    department: Annotated[str | None, typer.Option(help="Department code.")] = None,
    area: Annotated[str | None, typer.Option(help="District, street or community code.")] = None,
    metric: Annotated[Metric, typer.Option(help="Choropleth metric.")] = Metric.REPORTS,
    unit: Annotated[Unit, typer.Option(help="Choropleth unit.")] = Unit.CELL,
    scheme: Annotated[str, typer.Option(help="quantiles, natural_breaks or user.")] = "quantiles",
    classes: Annotated[int, typer.Option(min=2, max=9, help="Number of classes.")] = 5,
    bounds: Annotated[str | None, typer.Option(help="User-set class bounds: 1,5,10.")] = None,
    confidence: Annotated[float, typer.Option(help="Hotspots: 0.90, 0.95 or 0.99.")] = 0.95,
    language: Annotated[
        str, typer.Option("--lang", help="The page's language: zh-CN or en.")
    ] = DEFAULT_LANGUAGE,
) -> None:
    """Write a map as one HTML file with Leaflet and its plugins inlined: it opens offline."""
    from maps.filters import choropleth_options
    from maps.page_assets import inline_assets

    if language not in LANGUAGES:
        raise typer.BadParameter(f"one of {', '.join(LANGUAGES)}", param_hint="--lang")
    zone = get_settings().city_zone
    end = parse_moment(period_to, default=datetime.now(UTC), name="--to", zone=zone)
    start = parse_moment(period_from, default=end - timedelta(days=30), name="--from", zone=zone)
    try:
        filters = MapFilters(
            period_from=start, period_to=end, category=category, status=status or None,
            urgency=urgency, department_code=department, area_code=area,
        )  # fmt: skip
        options = choropleth_options(metric, unit, scheme, classes, bounds)
        with db.open_session() as session, progress(f"exporting the {layer} map", 3) as show:
            show(f"reading and drawing the {layer} map", 0, 3)
            page = page_html(
                session, layer, filters, options, confidence=confidence, language=language
            )
            show("inlining Leaflet and its plugins", 1, 3)
            standalone = inline_assets(page)
            show(f"writing {out}", 2, 3)
            out.write_text(standalone, encoding="utf-8")
    except CitygridError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(code=1) from error
    typer.echo(f"wrote {out} ({len(standalone.encode()) / 1e6:.2f} MB, {layer} map)")


def page_html(
    session: Session,
    layer: Layer,
    filters: MapFilters,
    options: ChoroplethOptions,
    *,
    confidence: float,
    language: str = DEFAULT_LANGUAGE,
) -> str:
    """The map page as the application serves it (in `language`, times in the city's time
    zone), without links back to the application."""
    from maps.pages import service as map_pages

    limits = map_pages.map_limits(get_settings())
    if layer is Layer.HEATMAP:
        return map_pages.heatmap_html(session, filters, limits, query=None, language=language)
    if layer is Layer.CHOROPLETH:
        return map_pages.choropleth_html(
            session, filters, options, limits, query=None, language=language
        )
    return map_pages.hotspots_html(
        session, filters, limits, confidence=confidence, query=None, language=language
    )
