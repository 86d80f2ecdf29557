"""The map pages as HTML: heatmap, choropleth and hotspots for a session and plain options.

The routes of `maps.pages.pages`, the dashboard's framed maps and `citygrid maps export` all call
these builders. They call `maps.service` by module attribute (the benchmark times those calls).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from citygrid.errors import InvalidInput
from citygrid.settings import Settings
from components.service import COUNT_CAP
from events.component_cases import service as component_cases
from events.component_cases.schemas import MapComponent
from grid.revision import grid_revision
from maps import render
from maps import service as map_service
from maps.classification import ClassBreaks, class_breaks
from maps.geometry import trimmed_outlines
from maps.hotspot_classes import HotspotClass
from maps.schemas import (
    CaseMarker,
    CellHotspot,
    ChoroplethOptions,
    MapFilters,
    Metric,
    Unit,
    UnitValue,
)

OUTLINES_SIMPLIFY_M = 20.0
CELLS_SIMPLIFY_M = 2.0
OUTLINES_CACHED = 32  # (grid revision, area) pairs
METRIC_LABELS = {
    Metric.REPORTS: "Reports",
    Metric.REPORTS_PER_KM2: "Reports per km²",
    Metric.OPEN_BACKLOG: "Open backlog",
    Metric.OVERDUE: "Overdue cases",
    Metric.ON_TIME_RATE: "On-time handling rate",
}
COARSER_UNIT = {Unit.CELL: Unit.COMMUNITY, Unit.COMMUNITY: Unit.STREET}
UNIT_PLURALS = {Unit.CELL: "cells", Unit.COMMUNITY: "communities", Unit.STREET: "streets"}


@dataclass(frozen=True)
class MapLimits:
    """How a page draws: the base tiles (None: outlines), marker cap, cell polygons drawn."""

    tiles_url: str | None
    markers_cap: int
    cells_drawn_max: int


def map_limits(settings: Settings) -> MapLimits:
    """The limits the settings set (map_tiles_url, map_markers_cap, map_cells_drawn_max)."""
    return MapLimits(
        tiles_url=settings.map_tiles_url,
        markers_cap=settings.map_markers_cap,
        cells_drawn_max=settings.map_cells_drawn_max,
    )


def describe(filters: MapFilters) -> str:
    """The filters in words, for the page header."""
    parts = [f"{filters.period_from:%Y-%m-%d %H:%M} – {filters.period_to:%Y-%m-%d %H:%M}"]
    for label, value in (
        ("category", filters.category),
        ("status", ", ".join(filters.status or []) or None),
        ("urgency", filters.urgency),
        ("department", filters.department_code),
        ("area", filters.area_code),
    ):
        if value:
            parts.append(f"{label} {value}")
    return " · ".join(parts)


def page_links(layer: str, query: str | None) -> list[tuple[str, str]]:
    """Links from a map page to its table view and CSV, keeping the query string (None: a
    standalone file, which has no application to link to)."""
    if query is None:
        return []
    suffix = f"?{query}" if query else ""
    return [("Table view", f"/maps/{layer}/table{suffix}"), ("CSV", f"/maps/{layer}/csv{suffix}")]


_outlines_cache: dict[tuple[str, str | None], tuple[dict[str, Any], list[str]]] = {}
_outlines_lock = threading.Lock()


def base_layer(
    session: Session, filters: MapFilters, limits: MapLimits, notices: list[str]
) -> render.BaseLayer:
    """Tiles when configured, else the outlines of the area's districts, streets, communities
    (the finer levels left out, with a notice, when the area has too many of them)."""
    if limits.tiles_url:
        return render.BaseLayer(limits.tiles_url)
    outlines, dropped = area_outlines(session, filters)
    if dropped:
        notices.append(
            f"Base map: {' and '.join(dropped)} outlines left out "
            "(too many to draw for this area); choose a smaller area to see them."
        )
    return render.BaseLayer(None, outlines)


def area_outlines(session: Session, filters: MapFilters) -> tuple[dict[str, Any], list[str]]:
    """The area's trimmed base outlines and the levels left out; cached per grid revision, as
    they change only with the grid (building them takes about 0.5 s for a whole city)."""
    key = (grid_revision(session), filters.area_code)
    with _outlines_lock:
        cached = _outlines_cache.get(key)
    if cached is not None:
        return cached
    outlines = map_service.outlines_base(session, filters, simplify_m=OUTLINES_SIMPLIFY_M)
    trimmed = trimmed_outlines(outlines)
    with _outlines_lock:
        while len(_outlines_cache) >= OUTLINES_CACHED:
            _outlines_cache.pop(next(iter(_outlines_cache)))
        _outlines_cache[key] = trimmed
    return trimmed


def markers_and_notice(
    session: Session, filters: MapFilters, limits: MapLimits, *, known_total: int | None = None
) -> tuple[list[CaseMarker], list[str]]:
    """The case markers when few enough, else none and a notice saying why. A `known_total`
    over the cap (the heatmap sums its cells) saves counting the cases again."""
    markers: list[CaseMarker] = []
    if known_total is not None and known_total > limits.markers_cap:
        total = known_total
    else:
        total, markers = map_service.case_markers(session, filters, cap=limits.markers_cap)
    if total <= limits.markers_cap:
        return markers, []
    return [], [
        f"{total:,} cases match: more than the {limits.markers_cap:,} shown as markers, so "
        "only the aggregate layers are drawn. Narrow the filters to see individual cases."
    ]


def component_layer(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    notices: list[str],
    *,
    wanted: bool | None,
) -> list[MapComponent]:
    """The area's components (of the filtered category) when there are at most the marker cap
    of them, and either they are asked for (`wanted`) or, by default, the page has an area
    filter; none, with a notice, when there are more (never more than the cap)."""
    if wanted is False or (wanted is None and filters.area_code is None):
        return []
    area = component_cases.MapArea(
        filters.area_code, filters.category, filters.period_from, filters.period_to
    )
    total, components = component_cases.components_on_map(session, area, cap=limits.markers_cap)
    if total > limits.markers_cap:
        counted = f"{total:,}{'+' if total >= COUNT_CAP else ''}"
        notices.append(
            f"{counted} components in this area: more than the {limits.markers_cap:,} a map "
            "draws, so the component layer is left out. Choose a smaller area (area=…) or a "
            "component category to see them."
        )
    return components


def heatmap_html(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    *,
    query: str | None = "",
    components: bool | None = None,
) -> str:
    """The heatmap page of the filtered reports, with case markers and components under the
    cap (`components`: True to ask for them, False for none, None: with an area filter)."""
    points = map_service.heat_points(session, filters)
    total = round(sum(weight for _, _, weight in points))
    markers, notices = markers_and_notice(session, filters, limits, known_total=total)
    drawn = component_layer(session, filters, limits, notices, wanted=components)
    base = base_layer(session, filters, limits, notices)
    header = render.PageHeader(
        "Heatmap of reports", describe(filters), notices, page_links("heatmap", query)
    )
    return render.heatmap_page(points, base=base, header=header, markers=markers, components=drawn)


def drawable_unit(
    session: Session, unit: Unit, filters: MapFilters, limits: MapLimits
) -> tuple[Unit, list[str]]:
    """The asked unit, or a coarser one when the area has too many to draw; and why."""
    counts = map_service.unit_counts(session, filters)
    notices: list[str] = []
    while counts[unit] > limits.cells_drawn_max and unit in COARSER_UNIT:
        coarser = COARSER_UNIT[unit]
        notices.append(
            f"The area has {counts[unit]:,} {UNIT_PLURALS[unit]}, more than the "
            f"{limits.cells_drawn_max:,} a page draws: showing {UNIT_PLURALS[coarser]}. "
            f"Choose a smaller area (area=…) to see {UNIT_PLURALS[unit]}."
        )
        unit = coarser
    return unit, notices


def choropleth_breaks(values: Sequence[UnitValue], options: ChoroplethOptions) -> ClassBreaks:
    """Class breaks over the defined values, user-set bounds checked."""
    defined = [unit.value for unit in values if unit.value is not None]
    try:
        return class_breaks(
            defined, scheme=options.scheme, k=options.classes, user_bounds=options.bounds
        )
    except ValueError as error:
        raise InvalidInput(str(error), field="bounds") from error


def choropleth_html(
    session: Session,
    filters: MapFilters,
    options: ChoroplethOptions,
    limits: MapLimits,
    *,
    query: str | None = "",
    components: bool | None = None,
) -> str:
    """The choropleth page: units by the metric's class, legend, tooltips, markers and
    components under the cap (`components` as for `heatmap_html`)."""
    map_service.check_area(session, filters)
    unit, notices = drawable_unit(session, options.unit, filters, limits)
    values = map_service.unit_values(session, unit, options.metric, filters)
    outlines = map_service.unit_outlines(session, unit, filters, simplify_m=CELLS_SIMPLIFY_M)
    markers, marker_notices = markers_and_notice(session, filters, limits)
    notices += marker_notices
    drawn = component_layer(session, filters, limits, notices, wanted=components)
    base = base_layer(session, filters, limits, notices)
    label = METRIC_LABELS[options.metric]
    header = render.PageHeader(
        f"{label} by {unit}", describe(filters), notices,
        page_links("choropleth", query),
    )  # fmt: skip
    return render.choropleth_page(
        outlines,
        values,
        choropleth_breaks(values, options),
        metric_label=label,
        base=base,
        header=header,
        markers=markers,
        components=drawn,
    )


def drawn_hotspot_cells(
    cells: Sequence[CellHotspot], cells_drawn_max: int
) -> tuple[list[CellHotspot], list[str]]:
    """All cells when few enough; else the significant ones, strongest |z| first, up to the cap."""
    if len(cells) <= cells_drawn_max:
        return list(cells), []
    significant = [cell for cell in cells if cell.hotspot_class is not HotspotClass.NS]
    significant.sort(key=lambda cell: abs(cell.z), reverse=True)
    notice = (
        f"The area has {len(cells):,} cells, more than the {cells_drawn_max:,} a page draws: "
        "only hot and cold spots are drawn"
    )
    if len(significant) > cells_drawn_max:
        notice += f" (the {cells_drawn_max:,} strongest of {len(significant):,})"
    return significant[:cells_drawn_max], [notice + ". The table view lists every cell."]


def hotspots_html(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    *,
    confidence: float = 0.95,
    query: str | None = "",
    components: bool | None = None,
) -> str:
    """The hotspot page: Gi* classes per cell with z, p and trend in each tooltip; components
    under the cap (`components` as for `heatmap_html`)."""
    result = map_service.hotspots(session, filters, confidence=confidence)
    cells, notices = drawn_hotspot_cells(result.cells, limits.cells_drawn_max)
    if result.message:
        notices.insert(0, result.message)
    geometries = map_service.cell_geometries(
        session, [cell.cell_id for cell in cells], simplify_m=CELLS_SIMPLIFY_M
    )
    drawn = component_layer(session, filters, limits, notices, wanted=components)
    base = base_layer(session, filters, limits, notices)
    timings = result.timings
    description = (
        f"{describe(filters)} · {result.weights_kind} weights"
        f"{' (cached)' if timings.weights_cached else ''} · "
        f"confidence ≥ {confidence:.0%}{', FDR-corrected' if result.fdr else ''}"
    )
    header = render.PageHeader(
        "Hot spots (Getis-Ord Gi*)", description, notices, page_links("hotspots", query)
    )
    return render.hotspots_page(cells, geometries, base=base, header=header, components=drawn)
