"""The emerging hot spot page (a Folium map: each location with a category coloured by it, a
legend counting them, a tooltip with its numbers) and its table, in the reader's language with
the window in the city's time."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import folium
from sqlalchemy.orm import Session

from analysis.emerging.categories import EmergingCategory
from citygrid.web import N_
from maps import render
from maps.emerging import service
from maps.emerging.query import EmergingQuery
from maps.emerging.words import (
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
    COLUMN_LABELS,
    PERIOD_COUNTS,
    UNIT_LABELS,
    Gettext,
)
from maps.geometry import outline_bounds
from maps.page_assets import ASSETS_URL
from maps.pages import service as pages
from maps.pages.tables import Table

MESSAGES = {
    service.TOO_FEW_LOCATIONS: N_("Fewer than 3 places in the area: no analysis."),
    service.NO_REPORTS: N_("No reports in the periods."),
}
WEIGHT_KINDS = {"queen": N_("queen contiguity"), "distance_band": N_("distance band")}
CSV_COLUMNS = list(COLUMN_LABELS)


def settings_in_words(report: service.EmergingReport, gettext: Gettext = str) -> str:
    """Periods, unit, weights, confidence and FDR, in words."""
    options = report.options
    periods = gettext(PERIOD_COUNTS[options.period]) % {"count": len(options.bounds) - 1}
    weights = gettext(WEIGHT_KINDS.get(report.weights_kind, report.weights_kind))
    if report.weights_cached:
        weights = gettext(N_("%(weights)s weights (cached)")) % {"weights": weights}
    else:
        weights = gettext(N_("%(weights)s weights")) % {"weights": weights}
    level = gettext(N_("confidence ≥ %(level)s")) % {"level": f"{options.confidence:.0%}"}
    parts = [periods, gettext(UNIT_LABELS[options.unit]), weights, level]
    if options.fdr:
        parts.append(gettext(N_("FDR-corrected")))
    return " · ".join(parts)


def drawn_locations(
    report: service.EmergingReport, cap: int, gettext: Gettext = str
) -> tuple[list[service.EmergingLocation], list[str]]:
    """The locations with a category, most often hot or cold first, up to the drawing cap."""
    found = [loc for loc in report.locations if loc.category is not EmergingCategory.NONE]
    found.sort(key=lambda loc: loc.hot_periods + loc.cold_periods, reverse=True)
    if len(found) <= cap:
        return found, []
    notice = gettext(
        N_(
            "%(count)s places have a pattern, more than the %(cap)s a page draws: the %(cap)s "
            "most often hot or cold are drawn. The table view lists every place."
        )
    ) % {"count": f"{len(found):,}", "cap": f"{cap:,}"}
    return found[:cap], [notice]


def features(
    located: Sequence[service.EmergingLocation],
    geometries: dict[int, dict[str, Any]],
    gettext: Gettext = str,
) -> dict[str, Any]:
    """The drawn locations as GeoJSON with their tooltip's words and colour."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": loc.code,
                "geometry": geometries[loc.location_id],
                "properties": {
                    "code": loc.code,
                    "name": loc.name,
                    "category": gettext(CATEGORY_LABELS[loc.category]),
                    "reports": loc.reports,
                    "hot": loc.hot_periods,
                    "cold": loc.cold_periods,
                    "trend": trend_words(loc),
                    "colour": CATEGORY_COLOURS[loc.category],
                },
            }
            for loc in located
            if loc.location_id in geometries
        ],
    }


def trend_words(location: service.EmergingLocation) -> str:
    """tau (p) of the Mann-Kendall trend, or a dash when it was not tested."""
    if location.tau is None or location.trend_p is None:
        return "–"
    return f"{location.tau:+.2f} (p {location.trend_p:.4f})"


def legend(report: service.EmergingReport, gettext: Gettext = str) -> str:
    """Every category with its colour and how many places fell in it."""
    counts = report.counts()
    title = html.escape(gettext(N_("Emerging hot spots (Gi* and Mann-Kendall)")))
    lines = [
        f'<i style="background:{CATEGORY_COLOURS[category]}"></i>'
        f"{html.escape(gettext(label))} ({counts.get(category, 0):,})"
        for category, label in CATEGORY_LABELS.items()
        if category is not EmergingCategory.NONE
    ]
    untouched = len(report.locations) - sum(counts.values())
    lines.append(f"{html.escape(gettext(CATEGORY_LABELS[EmergingCategory.NONE]))} ({untouched:,})")
    return f"<b>{title}</b><br>" + "<br>".join(lines)


def emerging_html(
    session: Session,
    query: EmergingQuery,
    limits: pages.MapLimits,
    *,
    url_query: str | None = "",
    language: str = "zh-CN",
) -> str:
    """The emerging hot spot page in `language`."""
    words = pages.page_language(language)
    _ = words.gettext
    report = service.emerging_hot_spots(session, query.filters, query.options)
    drawn, notices = drawn_locations(report, limits.cells_drawn_max, _)
    if report.message:
        notices.insert(0, _(MESSAGES.get(report.message, report.message)))
    geometries = service.location_geometries(
        session, query.options.unit, [loc.location_id for loc in drawn],
        simplify_m=pages.CELLS_SIMPLIFY_M,
    )  # fmt: skip
    collection = features(drawn, geometries, _)
    base = pages.base_layer(session, query.filters, limits, notices, _)
    description = " · ".join(
        [pages.describe(query.filters, limits.city_zone, _), settings_in_words(report, _)]
    )
    header = render.PageHeader(
        _(N_("Emerging hot spots")), description, notices,
        pages.page_links("emerging", url_query, _),
    )  # fmt: skip
    fmap = render.new_map(
        base,
        outline_bounds(collection) or outline_bounds(base.outlines),
        words,
    )
    if collection["features"]:
        add_layer(fmap, collection, _)
    return render.finish_page(fmap, header, legend(report, _), ASSETS_URL, words)


def add_layer(fmap: folium.Map, collection: dict[str, Any], gettext: Gettext) -> None:
    """The categorised places, each in its category's colour, with a tooltip."""
    fields = ["code", "name", "category", "reports", "hot", "cold", "trend"]
    aliases = [N_("Code"), N_("Name"), N_("Category"), N_("Reports"), N_("Hot periods"),
               N_("Cold periods"), N_("Trend (Mann-Kendall tau)")]  # fmt: skip
    folium.GeoJson(
        collection,
        name=gettext(N_("Emerging hot spots")),
        style_function=lambda feature: {
            "fillColor": feature["properties"]["colour"],
            "color": feature["properties"]["colour"],
            "weight": 0.5,
            "fillOpacity": 0.8,
        },
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[gettext(alias) for alias in aliases]),
    ).add_to(fmap)


def csv_rows(report: service.EmergingReport) -> list[list[str]]:
    """One row per location (codes, not words: the CSV is read by programs)."""
    return [
        [loc.code, loc.name, loc.category.value, str(loc.reports), str(loc.last_period_reports),
         str(loc.hot_periods), str(loc.cold_periods),
         "" if loc.tau is None else f"{loc.tau:.4f}",
         "" if loc.trend_p is None else f"{loc.trend_p:.6f}", f"{loc.last_z:.3f}"]
        for loc in report.locations
    ]  # fmt: skip


def csv_table(report: service.EmergingReport) -> Table:
    """The CSV's table: column codes and category codes."""
    return Table(N_("Emerging hot spots"), CSV_COLUMNS, csv_rows(report))


def html_table(report: service.EmergingReport) -> Table:
    """The table view's table: columns and categories named (translated by the table page)."""
    names = {category.value: label for category, label in CATEGORY_LABELS.items()}
    columns = [COLUMN_LABELS[column] for column in CSV_COLUMNS]
    return Table(N_("Emerging hot spots"), columns, csv_rows(report), {2: names})
