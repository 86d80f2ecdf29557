"""The map pages as HTML: heatmap, choropleth and hotspots for a session and plain options.

The routes of `maps.pages.pages`, the dashboard's framed maps and `citygrid maps export` all call
these builders. They call `maps.service` by module attribute (the benchmark times those calls).
Every page speaks the language it is given and shows its times in the city's time zone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from sqlalchemy.orm import Session

from citygrid.errors import InvalidInput
from citygrid.i18n import DEFAULT_LANGUAGE, translations
from citygrid.settings import Settings
from citygrid.web import N_, local_time
from components.service import COUNT_CAP
from events.cases.pages import STATUS_LABELS, URGENCY_LABELS
from events.component_cases import service as component_cases
from events.component_cases.schemas import MapComponent
from grid.revision import grid_revision
from maps import hotspots as gi_star
from maps import render
from maps import service as map_service
from maps.classification import ClassBreaks, class_breaks
from maps.geometry import trimmed_outlines
from maps.hotspot_classes import HotspotClass
from maps.schemas import (
    CaseMarker,
    CellHotspot,
    ChoroplethOptions,
    HotspotResult,
    MapFilters,
    Metric,
    Unit,
    UnitValue,
)
from sensing.devices.map_layer import MapDevice, devices_on_map

OUTLINES_SIMPLIFY_M = 20.0
CELLS_SIMPLIFY_M = 2.0
OUTLINES_CACHED = 32  # (grid revision, area) pairs
METRIC_LABELS = {
    Metric.REPORTS: N_("Reports"),
    Metric.REPORTS_PER_KM2: N_("Reports per km²"),
    Metric.OPEN_BACKLOG: N_("Open backlog"),
    Metric.OVERDUE: N_("Overdue cases"),
    Metric.ON_TIME_RATE: N_("On-time handling rate"),
}
COARSER_UNIT = {Unit.CELL: Unit.COMMUNITY, Unit.COMMUNITY: Unit.STREET}
UNIT_NAMES = {Unit.CELL: N_("cells"), Unit.COMMUNITY: N_("communities"), Unit.STREET: N_("streets")}
FILTER_LABELS = (
    ("category", N_("category")),
    ("status", N_("status")),
    ("urgency", N_("urgency")),
    ("department_code", N_("department")),
    ("area_code", N_("area")),
)
# maps.hotspots says (in English, for the API) why there is no analysis; the pages translate it.
HOTSPOT_MESSAGES = {
    gi_star.TOO_FEW_CELLS: N_("Fewer than 3 cells in the area: no hotspot analysis."),
    gi_star.NO_REPORTS: N_("No reports in the period."),
    gi_star.ALL_EQUAL: N_("Every cell has the same count: no hotspot can stand out."),
}
Gettext = Callable[[str], str]
LIST_SEPARATOR = N_(", ")  # between the items of a list in a sentence ("、" in Chinese)


@dataclass(frozen=True)
class MapLimits:
    """How a page draws: the base tiles (None: outlines), marker cap, cell polygons drawn, and
    the city's time zone, in which it shows every time."""

    tiles_url: str | None
    markers_cap: int
    cells_drawn_max: int
    city_zone: tzinfo


def map_limits(settings: Settings) -> MapLimits:
    """The limits the settings set (map_tiles_url, map_markers_cap, map_cells_drawn_max,
    city_time_zone)."""
    return MapLimits(
        tiles_url=settings.map_tiles_url,
        markers_cap=settings.map_markers_cap,
        cells_drawn_max=settings.map_cells_drawn_max,
        city_zone=settings.city_zone,
    )


def page_language(language: str) -> render.PageLanguage:
    """The page's words in `language` (zh-CN or en), case statuses and urgencies included."""
    gettext = translations(language).gettext
    labels = {**STATUS_LABELS, **URGENCY_LABELS}
    return render.PageLanguage(
        language, gettext, {code: gettext(label) for code, label in labels.items()}
    )


def describe(filters: MapFilters, zone: tzinfo, gettext: Gettext = str) -> str:
    """The filters in words, for the page header: the period in the city's time."""
    period = f"{local_time(filters.period_from, zone)} – {local_time(filters.period_to, zone)}"
    statuses = [gettext(STATUS_LABELS.get(status, status)) for status in filters.status or []]
    urgency = gettext(URGENCY_LABELS[filters.urgency]) if filters.urgency else None
    values = {"status": gettext(LIST_SEPARATOR).join(statuses) or None, "urgency": urgency}
    parts = [period]
    for name, label in FILTER_LABELS:
        value = values[name] if name in values else getattr(filters, name)
        if value:
            parts.append(f"{gettext(label)} {value}")
    return " · ".join(parts)


def page_links(layer: str, query: str | None, gettext: Gettext = str) -> list[tuple[str, str]]:
    """Links from a map page to its table view and CSV, keeping the query string (None: a
    standalone file, which has no application to link to)."""
    if query is None:
        return []
    suffix = f"?{query}" if query else ""
    return [
        (gettext(N_("Table view")), f"/maps/{layer}/table{suffix}"),
        (gettext(N_("CSV")), f"/maps/{layer}/csv{suffix}"),
    ]


_outlines_cache: dict[tuple[str, str | None], tuple[dict[str, Any], list[str]]] = {}
_outlines_lock = threading.Lock()


LEVEL_NAMES = {"community": N_("community"), "street": N_("street")}


def base_layer(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    notices: list[str],
    gettext: Gettext = str,
) -> render.BaseLayer:
    """Tiles when configured, else the outlines of the area's districts, streets, communities
    (the finer levels left out, with a notice, when the area has too many of them)."""
    if limits.tiles_url:
        return render.BaseLayer(limits.tiles_url)
    outlines, dropped = area_outlines(session, filters)
    if dropped:
        separator = gettext(LIST_SEPARATOR)
        levels = separator.join(gettext(LEVEL_NAMES.get(level, level)) for level in dropped)
        notices.append(
            gettext(
                N_(
                    "Base map: %(levels)s outlines left out (too many to draw for this area); "
                    "choose a smaller area to see them."
                )
            )
            % {"levels": levels}
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
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    *,
    known_total: int | None = None,
    gettext: Gettext = str,
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
    notice = gettext(
        N_(
            "%(total)s cases match: more than the %(cap)s shown as markers, so only the "
            "aggregate layers are drawn. Narrow the filters to see individual cases."
        )
    )
    return [], [notice % {"total": f"{total:,}", "cap": f"{limits.markers_cap:,}"}]


def component_layer(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    notices: list[str],
    *,
    wanted: bool | None,
    gettext: Gettext = str,
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
        notice = gettext(
            N_(
                "%(count)s components in this area: more than the %(cap)s a map draws, so the "
                "component layer is left out. Choose a smaller area (area=…) or a component "
                "category to see them."
            )
        )
        notices.append(notice % {"count": counted, "cap": f"{limits.markers_cap:,}"})
    return components


def device_layer(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    notices: list[str],
    *,
    wanted: bool | None,
    gettext: Gettext = str,
) -> list[MapDevice]:
    """The area's sensing devices and their state, drawn when the component layer would be
    (`wanted`, or an area filter) and there are at most the marker cap of them."""
    if wanted is False or (wanted is None and filters.area_code is None):
        return []
    total, devices = devices_on_map(session, filters.area_code, cap=limits.markers_cap)
    if total > limits.markers_cap:
        notice = gettext(
            N_(
                "More than %(cap)s devices in this area: the device layer is left out. Choose "
                "a smaller area (area=…) to see them."
            )
        )
        notices.append(notice % {"cap": f"{limits.markers_cap:,}"})
    return devices


def heatmap_html(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    *,
    query: str | None = "",
    components: bool | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> str:
    """The heatmap page of the filtered reports, with case markers and components under the
    cap (`components`: True to ask for them, False for none, None: with an area filter)."""
    words = page_language(language)
    _ = words.gettext
    points = map_service.heat_points(session, filters)
    total = round(sum(weight for _, _, weight in points))
    markers, notices = markers_and_notice(session, filters, limits, known_total=total, gettext=_)
    drawn = component_layer(session, filters, limits, notices, wanted=components, gettext=_)
    devices = device_layer(session, filters, limits, notices, wanted=components, gettext=_)
    base = base_layer(session, filters, limits, notices, _)
    header = render.PageHeader(
        _(N_("Heatmap of reports")),
        describe(filters, limits.city_zone, _),
        notices,
        page_links("heatmap", query, _),
    )
    return render.heatmap_page(
        points,
        base=base,
        header=header,
        markers=markers,
        components=drawn,
        devices=devices,
        language=words,
    )


def drawable_unit(
    session: Session, unit: Unit, filters: MapFilters, limits: MapLimits, gettext: Gettext = str
) -> tuple[Unit, list[str]]:
    """The asked unit, or a coarser one when the area has too many to draw; and why."""
    counts = map_service.unit_counts(session, filters)
    notices: list[str] = []
    while counts[unit] > limits.cells_drawn_max and unit in COARSER_UNIT:
        coarser = COARSER_UNIT[unit]
        notice = gettext(
            N_(
                "The area has %(count)s %(units)s, more than the %(cap)s a page draws: showing "
                "%(coarser)s. Choose a smaller area (area=…) to see %(units)s."
            )
        )
        notices.append(
            notice
            % {
                "count": f"{counts[unit]:,}",
                "units": gettext(UNIT_NAMES[unit]),
                "cap": f"{limits.cells_drawn_max:,}",
                "coarser": gettext(UNIT_NAMES[coarser]),
            }
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
    language: str = DEFAULT_LANGUAGE,
) -> str:
    """The choropleth page: units by the metric's class, legend, tooltips, markers and
    components under the cap (`components` as for `heatmap_html`)."""
    words = page_language(language)
    _ = words.gettext
    map_service.check_area(session, filters)
    unit, notices = drawable_unit(session, options.unit, filters, limits, _)
    values = map_service.unit_values(session, unit, options.metric, filters)
    outlines = map_service.unit_outlines(session, unit, filters, simplify_m=CELLS_SIMPLIFY_M)
    markers, marker_notices = markers_and_notice(session, filters, limits, gettext=_)
    notices += marker_notices
    drawn = component_layer(session, filters, limits, notices, wanted=components, gettext=_)
    devices = device_layer(session, filters, limits, notices, wanted=components, gettext=_)
    base = base_layer(session, filters, limits, notices, _)
    label = _(METRIC_LABELS[options.metric])
    header = render.PageHeader(
        choropleth_title(options.metric, unit, _),
        describe(filters, limits.city_zone, _),
        notices,
        page_links("choropleth", query, _),
    )
    return render.choropleth_page(
        outlines,
        values,
        choropleth_breaks(values, options),
        metric_label=label,
        base=base,
        header=header,
        markers=markers,
        components=drawn,
        devices=devices,
        language=words,
    )


def choropleth_title(metric: Metric, unit: Unit, gettext: Gettext = str) -> str:
    """ "Reports by cells", in the page's language."""
    return gettext(N_("%(metric)s by %(units)s")) % {
        "metric": gettext(METRIC_LABELS[metric]),
        "units": gettext(UNIT_NAMES[unit]),
    }


def drawn_hotspot_cells(
    cells: Sequence[CellHotspot], cells_drawn_max: int, gettext: Gettext = str
) -> tuple[list[CellHotspot], list[str]]:
    """All cells when few enough; else the significant ones, strongest |z| first, up to the cap."""
    if len(cells) <= cells_drawn_max:
        return list(cells), []
    significant = [cell for cell in cells if cell.hotspot_class is not HotspotClass.NS]
    significant.sort(key=lambda cell: abs(cell.z), reverse=True)
    numbers = {
        "count": f"{len(cells):,}",
        "cap": f"{cells_drawn_max:,}",
        "significant": f"{len(significant):,}",
    }
    if len(significant) > cells_drawn_max:
        notice = N_(
            "The area has %(count)s cells, more than the %(cap)s a page draws: only hot and "
            "cold spots are drawn (the %(cap)s strongest of %(significant)s). The table view "
            "lists every cell."
        )
    else:
        notice = N_(
            "The area has %(count)s cells, more than the %(cap)s a page draws: only hot and "
            "cold spots are drawn. The table view lists every cell."
        )
    return significant[:cells_drawn_max], [gettext(notice) % numbers]


def hotspot_message(message: str | None, gettext: Gettext = str) -> str | None:
    """Why there is no hotspot analysis, in the page's language."""
    if message is None:
        return None
    return gettext(HOTSPOT_MESSAGES.get(message, message))


def hotspots_html(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    *,
    confidence: float = 0.95,
    query: str | None = "",
    components: bool | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> str:
    """The hotspot page: Gi* classes per cell with z, p and trend in each tooltip; components
    under the cap (`components` as for `heatmap_html`)."""
    words = page_language(language)
    _ = words.gettext
    result = map_service.hotspots(session, filters, confidence=confidence)
    cells, notices = drawn_hotspot_cells(result.cells, limits.cells_drawn_max, _)
    message = hotspot_message(result.message, _)
    if message:
        notices.insert(0, message)
    geometries = map_service.cell_geometries(
        session, [cell.cell_id for cell in cells], simplify_m=CELLS_SIMPLIFY_M
    )
    drawn = component_layer(session, filters, limits, notices, wanted=components, gettext=_)
    devices = device_layer(session, filters, limits, notices, wanted=components, gettext=_)
    base = base_layer(session, filters, limits, notices, _)
    description = " · ".join(
        [describe(filters, limits.city_zone, _), analysis_settings(result, confidence, _)]
    )
    header = render.PageHeader(
        _(N_("Hot spots (Getis-Ord Gi*)")), description, notices, page_links("hotspots", query, _)
    )
    return render.hotspots_page(
        cells,
        geometries,
        base=base,
        header=header,
        components=drawn,
        devices=devices,
        language=words,
    )


WEIGHT_KINDS = {"queen": N_("queen contiguity"), "distance_band": N_("distance band")}


def analysis_settings(result: HotspotResult, confidence: float, gettext: Gettext = str) -> str:
    """The weights and confidence the analysis used, in words."""
    weights = gettext(WEIGHT_KINDS.get(result.weights_kind, result.weights_kind))
    if result.timings.weights_cached:
        weights = gettext(N_("%(weights)s weights (cached)")) % {"weights": weights}
    else:
        weights = gettext(N_("%(weights)s weights")) % {"weights": weights}
    level = gettext(N_("confidence ≥ %(level)s")) % {"level": f"{confidence:.0%}"}
    parts = [weights, level, gettext(N_("FDR-corrected"))] if result.fdr else [weights, level]
    return " · ".join(parts)


def hotspot_map_data(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    *,
    confidence: float = 0.95,
    language: str = DEFAULT_LANGUAGE,
) -> dict[str, Any]:
    """The hot and cold spots for a map drawn by the page itself (the dashboard's): the
    significant cells (strongest first, up to the drawing cap) as GeoJSON with their colour and
    a tooltip's words, the legend, the period in city time and the notices; in `language`."""
    _ = page_language(language).gettext
    result = map_service.hotspots(session, filters, confidence=confidence).significant()
    cells, notices = drawn_hotspot_cells(result.cells, limits.cells_drawn_max, _)
    message = hotspot_message(result.message, _)
    if message:
        notices.insert(0, message)
    elif not cells:
        notices.insert(0, _(N_("No hot or cold spot in the period.")))
    geometries = map_service.cell_geometries(
        session, [cell.cell_id for cell in cells], simplify_m=CELLS_SIMPLIFY_M
    )
    features = render.hotspot_features(cells, geometries, _)
    colour_of = {cell.code: render.HOTSPOT_COLOURS[cell.hotspot_class] for cell in cells}
    for feature in features["features"]:
        feature["properties"]["colour"] = colour_of[feature["id"]]
    return {
        "cells": features,
        "legend": [
            [render.HOTSPOT_COLOURS[cls], _(label)]
            for cls, label in render.HOTSPOT_LABELS.items()
            if cls is not HotspotClass.NS
        ],
        "fields": {"count": _(N_("Reports")), "class": _(N_("Class")), "trend": _(N_("Trend"))},
        "description": " · ".join(
            [describe(filters, limits.city_zone, _), analysis_settings(result, confidence, _)]
        ),
        "notices": notices,
    }
