"""Folium pages for the maps: heatmap, choropleth and hotspots, with their assets served locally.

Pure: plain values in, an HTML string out. Every CSS/JS link Folium would take from a CDN is
replaced by the application's own copy (`maps.page_assets`); the choropleth's classes and legend
come from `maps.classification`, the points and outlines it draws from `maps.geometry`. Every
word a page shows (title, legend, layer names, tooltips, popups) is in the `PageLanguage` given.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import folium
from branca.element import Element, Figure
from folium.plugins import FastMarkerCluster, HeatMap
from folium.template import Template
from folium.utilities import JsCode

from citygrid.web import N_
from events.component_cases.schemas import MapComponent
from maps.classification import (
    NO_DATA_COLOUR,
    ClassBreaks,
    choropleth_legend,
    format_value,
    palette,
)
from maps.geometry import (
    COORDINATE_DECIMALS,
    bounds_of_points,
    coarsened_heat_points,
    outline_bounds,
    padded,
)
from maps.hotspot_classes import HotspotClass, Trend
from maps.page_assets import ASSETS_URL, localise_assets
from maps.schemas import CaseMarker, CellHotspot, UnitValue
from sensing.devices.map_layer import (
    DEVICE_STATE_COLOURS,
    DEVICE_STATE_LABELS,
    DEVICE_TYPE_LABELS,
    MapDevice,
)

MAX_ZOOM = 19  # without tiles nothing else sets it, and the marker clusters need one
HOTSPOT_COLOURS: dict[HotspotClass, str] = {
    HotspotClass.HOT99: "#b2182b",
    HotspotClass.HOT95: "#ef8a62",
    HotspotClass.HOT90: "#fddbc7",
    HotspotClass.NS: "#f7f7f7",
    HotspotClass.COLD90: "#d1e5f0",
    HotspotClass.COLD95: "#67a9cf",
    HotspotClass.COLD99: "#2166ac",
}
HOTSPOT_LABELS: dict[HotspotClass, str] = {
    HotspotClass.HOT99: N_("Hot spot, 99 % confidence"),
    HotspotClass.HOT95: N_("Hot spot, 95 %"),
    HotspotClass.HOT90: N_("Hot spot, 90 %"),
    HotspotClass.NS: N_("Not significant"),
    HotspotClass.COLD90: N_("Cold spot, 90 %"),
    HotspotClass.COLD95: N_("Cold spot, 95 %"),
    HotspotClass.COLD99: N_("Cold spot, 99 % confidence"),
}
TREND_LABELS: dict[Trend, str] = {
    Trend.NEW: N_("new hot spot"),
    Trend.INTENSIFYING: N_("intensifying"),
    Trend.PERSISTENT: N_("persistent"),
    Trend.DIMINISHING: N_("diminishing"),
    Trend.FORMER: N_("former hot spot"),
    Trend.NONE: N_("no trend"),
}
COMPONENT_STATUS_COLOURS = {"in_use": "#1a9850", "damaged": "#d73027", "removed": "#969696"}
COMPONENT_STATUS_LABELS = {
    "in_use": N_("Components in use"),
    "damaged": N_("Components damaged"),
    "removed": N_("Components removed"),
}
# One marker per row [lat, lon, number, status, category, urgency]; LABELS: status and urgency
# names by code.
MARKER_CALLBACK = """function (row) {
    var labels = LABELS;
    var marker = L.circleMarker(new L.LatLng(row[0], row[1]),
        {radius: 6, color: row[5] === 'urgent' ? '#c00' : '#036', weight: 2});
    marker.bindTooltip(row[2] + ' · ' + (labels[row[3]] || row[3]) + ' · ' + row[4]
        + ' · ' + (labels[row[5]] || row[5]));
    return marker;
}"""
STATUS_WORDS = {"in_use": N_("in use"), "damaged": N_("damaged"), "removed": N_("removed")}
COMPONENT_POINT_RADIUS_PX = 5
PAGE_CSS = """
body{margin:0;font:14px system-ui,sans-serif;display:flex;flex-direction:column;height:100vh}
#map-header{padding:.4rem .8rem;background:#f4f4f4;border-bottom:1px solid #ccc}
#map-header h1{font-size:1.1rem;margin:0 0 .2rem}
#map-header p{margin:.1rem 0}.map-notice{color:#8a4b00}
.folium-map{flex:1 1 auto;height:auto!important;min-height:20rem}
#map-legend{position:absolute;right:.8rem;bottom:2.2rem;z-index:1000;background:#fff;
padding:.4rem .6rem;border:1px solid #999;font-size:12px;line-height:1.4}
#map-legend i{display:inline-block;width:1.2em;height:.9em;margin-right:.4em;border:1px solid #777}
"""


@dataclass(frozen=True)
class PageLanguage:
    """The page's language: its code (for `<html lang>`), the translation of the messages marked
    here, and the case statuses and urgencies already in that language (for the markers)."""

    code: str = "en"
    gettext: Callable[[str], str] = str
    case_labels: Mapping[str, str] = field(default_factory=dict)


ENGLISH = PageLanguage()


@dataclass(frozen=True)
class BaseLayer:
    """The map's background: the city's own XYZ tiles, or (tiles_url None) the grid's outlines."""

    tiles_url: str | None
    outlines: dict[str, Any] | None = None  # FeatureCollection with a "level" property
    attribution: str = "citygrid"


@dataclass(frozen=True)
class PageHeader:
    """What the page says above the map: title, the filters in words, notices and links."""

    title: str
    description: str
    notices: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, href)


def new_map(
    base: BaseLayer, bounds: list[list[float]] | None, language: PageLanguage = ENGLISH
) -> folium.Map:
    """A Folium map on the configured base: XYZ tiles, or the grid outlines as the base layer."""
    _ = language.gettext
    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    fmap.options["maxZoom"] = MAX_ZOOM  # folium gives max_zoom only to its own tile layer
    if base.tiles_url:
        folium.TileLayer(base.tiles_url, attr=base.attribution, name=_("Base map")).add_to(fmap)
    if base.outlines and base.outlines.get("features"):
        _add_outlines(fmap, base.outlines, as_base=not base.tiles_url, gettext=_)
    if bounds:
        fmap.fit_bounds(padded(bounds))
    return fmap


def _add_outlines(
    fmap: folium.Map, outlines: dict[str, Any], *, as_base: bool, gettext: Callable[[str], str]
) -> None:
    weights = {"district": 2.5, "street": 1.5, "community": 0.7}
    folium.GeoJson(
        outlines,
        name=gettext(N_("Grid outlines (district, street, community)")),
        overlay=not as_base,
        style_function=lambda feature: {
            "color": "#555555",
            "weight": weights.get(feature["properties"].get("level"), 0.7),
            "fill": False,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["code", "name"], aliases=[gettext(N_("Code")), gettext(N_("Name"))]
        ),
        smooth_factor=1.5,
    ).add_to(fmap)


def heatmap_page(
    points: Sequence[tuple[float, float, float]],
    *,
    base: BaseLayer,
    header: PageHeader,
    markers: Sequence[CaseMarker] | None = None,
    components: Sequence[MapComponent] | None = None,
    devices: Sequence[MapDevice] | None = None,
    assets_url: str = ASSETS_URL,
    language: PageLanguage = ENGLISH,
) -> str:
    """The heatmap page: per-cell weighted points (merged when many), optional case markers
    and components."""
    _ = language.gettext
    heat = coarsened_heat_points(points)
    fmap = new_map(base, bounds_of_points(heat) or outline_bounds(base.outlines), language)
    if heat:
        HeatMap(  # type: ignore[no-untyped-call]
            heat, name=_(N_("Reports (heat)")), radius=18, blur=14, min_opacity=0.3
        ).add_to(fmap)
    add_markers(fmap, markers, language)
    add_components(fmap, components, language)
    add_devices(fmap, devices, language)
    title, note = _(N_("Reports")), _(N_("intensity relative to the busiest spot"))
    legend = f"<b>{html.escape(title)}</b><br>{html.escape(note)}"
    legend += component_legend(components, language) + device_legend(devices, language)
    return finish_page(fmap, header, legend, assets_url, language)


def choropleth_page(
    outlines: dict[str, Any],
    values: Sequence[UnitValue],
    breaks: ClassBreaks,
    *,
    metric_label: str,
    base: BaseLayer,
    header: PageHeader,
    markers: Sequence[CaseMarker] | None = None,
    components: Sequence[MapComponent] | None = None,
    devices: Sequence[MapDevice] | None = None,
    assets_url: str = ASSETS_URL,
    language: PageLanguage = ENGLISH,
) -> str:
    """The choropleth page: units coloured by class, a legend, a tooltip per unit, optional
    case markers and components."""
    colours = palette(len(breaks.upper_bounds), zero_class=breaks.zero_class)
    features, colour_of = choropleth_features(outlines, values, breaks, colours)
    fmap = new_map(base, outline_bounds(features), language)
    if features["features"]:
        _add_choropleth_layer(fmap, features, colour_of, metric_label, language.gettext)
    add_markers(fmap, markers, language)
    add_components(fmap, components, language)
    add_devices(fmap, devices, language)
    legend = choropleth_legend(metric_label, breaks, colours, language.gettext)
    legend += component_legend(components, language) + device_legend(devices, language)
    return finish_page(fmap, header, legend, assets_url, language)


def _add_choropleth_layer(
    fmap: folium.Map,
    features: dict[str, Any],
    colour_of: dict[str, str],
    metric_label: str,
    gettext: Callable[[str], str],
) -> None:
    folium.GeoJson(
        features,
        name=metric_label,
        style_function=lambda feature: {
            "fillColor": colour_of[feature["id"]],
            "color": "#444444",
            "weight": 0.5,
            "fillOpacity": 0.7,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["code", "name", "value"],
            aliases=[gettext(N_("Code")), gettext(N_("Name")), metric_label],
        ),
    ).add_to(fmap)


def choropleth_features(
    outlines: dict[str, Any],
    values: Sequence[UnitValue],
    breaks: ClassBreaks,
    colours: Sequence[str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The outlines with code, name and formatted value in their properties, and each unit's
    class colour by code (no value: grey)."""
    value_of = {unit.code: unit.value for unit in values}
    features = []
    colour_of: dict[str, str] = {}
    for feature in outlines.get("features", []):
        code = feature["properties"]["code"]
        value = value_of.get(code)
        colour_of[code] = NO_DATA_COLOUR if value is None else colours[breaks.class_of(value)]
        properties = {"code": code, "name": feature["properties"]["name"],
                      "value": format_value(value)}  # fmt: skip
        features.append({"type": "Feature", "id": code, "geometry": feature["geometry"],
                         "properties": properties})  # fmt: skip
    return {"type": "FeatureCollection", "features": features}, colour_of


def hotspots_page(
    cells: Sequence[CellHotspot],
    geometries: dict[int, dict[str, Any]],
    *,
    base: BaseLayer,
    header: PageHeader,
    components: Sequence[MapComponent] | None = None,
    devices: Sequence[MapDevice] | None = None,
    assets_url: str = ASSETS_URL,
    language: PageLanguage = ENGLISH,
) -> str:
    """The hotspot page: the given cells coloured by Gi* class, tooltip with z, p and trend;
    optional components."""
    _ = language.gettext
    features = hotspot_features(cells, geometries, _)
    fmap = new_map(base, outline_bounds(features) or outline_bounds(base.outlines), language)
    if features["features"]:
        colour_of = {cell.code: HOTSPOT_COLOURS[cell.hotspot_class] for cell in cells}
        _add_hotspot_layer(fmap, features, colour_of, _)
    add_components(fmap, components, language)
    add_devices(fmap, devices, language)
    legend = hotspot_legend(_) + component_legend(components, language)
    legend += device_legend(devices, language)
    return finish_page(fmap, header, legend, assets_url, language)


def hotspot_legend(gettext: Callable[[str], str]) -> str:
    """The Gi* classes with their colours, and where the trend is shown."""
    title = html.escape(gettext(N_("Hot and cold spots (Getis-Ord Gi*, FDR-corrected)")))
    swatches = "<br>".join(
        f'<i style="background:{HOTSPOT_COLOURS[cls]}"></i>'
        f"{html.escape(gettext(HOTSPOT_LABELS[cls]))}"
        for cls in HotspotClass
    )
    note = html.escape(gettext(N_("Each cell's trend against the previous period: in its tooltip")))
    return f"<b>{title}</b><br>{swatches}<br>{note}"


def _add_hotspot_layer(
    fmap: folium.Map,
    features: dict[str, Any],
    colour_of: dict[str, str],
    gettext: Callable[[str], str],
) -> None:
    aliases = [N_("Code"), N_("Name"), N_("Reports"), "z", "p", N_("Class"), N_("Trend")]
    folium.GeoJson(
        features,
        name=gettext(N_("Hot and cold spots (Gi*)")),
        style_function=lambda feature: {
            "fillColor": colour_of[feature["id"]],
            "color": colour_of[feature["id"]],
            "weight": 0.5,
            "fillOpacity": 0.8,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["code", "name", "count", "z", "p", "class", "trend"],
            aliases=[gettext(alias) for alias in aliases],
        ),
    ).add_to(fmap)


def hotspot_features(
    cells: Sequence[CellHotspot],
    geometries: dict[int, dict[str, Any]],
    gettext: Callable[[str], str] = str,
) -> dict[str, Any]:
    """A FeatureCollection of the cells that have a geometry, with statistics, class and trend
    (named in the page's language: the colours are set from the cells, so the page need not
    carry the codes too)."""
    class_labels = {cls: gettext(label) for cls, label in HOTSPOT_LABELS.items()}
    trend_labels = {trend: gettext(label) for trend, label in TREND_LABELS.items()}
    features = [
        {
            "type": "Feature",
            "id": cell.code,
            "geometry": geometries[cell.cell_id],
            "properties": {
                "code": cell.code,
                "name": cell.name,
                "count": cell.count,
                "z": round(cell.z, 2),
                "p": round(cell.p, 4),
                "class": class_labels[cell.hotspot_class],
                "trend": trend_labels[cell.trend],
            },
        }
        for cell in cells
        if cell.cell_id in geometries
    ]
    return {"type": "FeatureCollection", "features": features}


def add_markers(
    fmap: folium.Map, markers: Sequence[CaseMarker] | None, language: PageLanguage = ENGLISH
) -> None:
    """Clustered circle markers, one per case, drawn in the browser from a compact array; the
    tooltip names status and urgency in the page's language."""
    if not markers:
        return
    # "<" escaped: the labels end up inside a <script> element.
    labels = json.dumps(dict(language.case_labels), ensure_ascii=False).replace("<", "\\u003c")
    rows = [
        [round(m.lat, COORDINATE_DECIMALS), round(m.lon, COORDINATE_DECIMALS), m.number,
         m.status, m.category_code, m.urgency]
        for m in markers
    ]  # fmt: skip
    callback = JsCode(MARKER_CALLBACK.replace("LABELS", labels))
    FastMarkerCluster(  # type: ignore[no-untyped-call]
        rows, callback=callback, name=language.gettext(N_("Cases"))
    ).add_to(fmap)


def component_features(
    components: Sequence[MapComponent], gettext: Callable[[str], str] = str
) -> dict[str, Any]:
    """The components as a FeatureCollection: popup fields (HTML-escaped, as the popup
    writes them as HTML) and a style by status (points filled, lines and areas outlined)."""
    status_labels = {status: gettext(STATUS_WORDS[status]) for status in STATUS_WORDS}
    features = []
    for component in components:
        colour = COMPONENT_STATUS_COLOURS.get(component.status, "#555555")
        is_point = component.geometry.get("type") in ("Point", "MultiPoint")
        style = {
            "color": colour,
            "weight": 1 if is_point else 2,
            "fill": is_point,
            "fillColor": colour,
            "fillOpacity": 0.8,
            "radius": COMPONENT_POINT_RADIUS_PX,
        }
        properties = {
            "code": component.code,
            "category": html.escape(f"{component.category_code} {component.category_name}"),
            "maintainer": html.escape(component.maintainer_name or "–"),
            "status": html.escape(status_labels.get(component.status, component.status)),
            "cases": component.cases_in_period,
            "style": style,
        }
        features.append(
            {
                "type": "Feature",
                "id": component.code,
                "geometry": component.geometry,
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}  # fmt: skip


def add_components(
    fmap: folium.Map, components: Sequence[MapComponent] | None, language: PageLanguage = ENGLISH
) -> None:
    """The component layer: circle markers coloured by status, outlines for lines and areas,
    a popup with code, category, maintainer, status and the cases in the period."""
    if not components:
        return
    _ = language.gettext
    aliases = [N_("Component"), N_("Category"), N_("Maintainer"), N_("Status"),
               N_("Cases in period")]  # fmt: skip
    folium.GeoJson(
        component_features(components, _),
        name=_(N_("Components (%(count)s)")) % {"count": f"{len(components):,}"},
        marker=folium.CircleMarker(radius=COMPONENT_POINT_RADIUS_PX),
        popup=folium.GeoJsonPopup(
            fields=["code", "category", "maintainer", "status", "cases"],
            aliases=[_(alias) for alias in aliases],
        ),
    ).add_to(fmap)


def component_legend(
    components: Sequence[MapComponent] | None, language: PageLanguage = ENGLISH
) -> str:
    """Legend lines for the component statuses drawn ("" without components)."""
    if not components:
        return ""
    drawn = {component.status for component in components}
    swatches = [
        f'<i style="background:{colour}"></i>'
        f"{html.escape(language.gettext(COMPONENT_STATUS_LABELS[status]))}"
        for status, colour in COMPONENT_STATUS_COLOURS.items()
        if status in drawn
    ]
    return "<br>" + "<br>".join(swatches)


DEVICE_POINT_RADIUS_PX = 7


def device_features(devices: Sequence[MapDevice], gettext: Callable[[str], str]) -> dict[str, Any]:
    """The devices as a FeatureCollection of points coloured by state, with popup fields
    (HTML-escaped)."""
    features = []
    for device in devices:
        colour = DEVICE_STATE_COLOURS[device.state]
        kind = DEVICE_TYPE_LABELS.get(device.device_type)
        properties = {
            "id": html.escape(device.id),
            "type": html.escape(gettext(kind) if kind else device.device_type),
            "name": html.escape(device.name or "–"),
            "state": html.escape(gettext(DEVICE_STATE_LABELS[device.state])),
            "case": html.escape(device.case_number or "–"),
            "style": {"color": "#ffffff", "weight": 2, "fill": True, "fillColor": colour,
                      "fillOpacity": 0.95, "radius": DEVICE_POINT_RADIUS_PX},
        }  # fmt: skip
        geometry = {"type": "Point", "coordinates": [device.lon, device.lat]}
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return {"type": "FeatureCollection", "features": features}


def add_devices(
    fmap: folium.Map, devices: Sequence[MapDevice] | None, language: PageLanguage = ENGLISH
) -> None:
    """The sensing devices' layer: points coloured by state, a popup with id, type, name, state
    and the open case the device filed."""
    if not devices:
        return
    _ = language.gettext
    aliases = [N_("Device"), N_("Device type"), N_("Name"), N_("State"), N_("Open case")]
    folium.GeoJson(
        device_features(devices, _),
        name=_(N_("Devices (%(count)s)")) % {"count": f"{len(devices):,}"},
        marker=folium.CircleMarker(radius=DEVICE_POINT_RADIUS_PX),
        popup=folium.GeoJsonPopup(
            fields=["id", "type", "name", "state", "case"], aliases=[_(alias) for alias in aliases]
        ),
    ).add_to(fmap)


def device_legend(devices: Sequence[MapDevice] | None, language: PageLanguage = ENGLISH) -> str:
    """Legend lines for the device states drawn ("" without devices)."""
    if not devices:
        return ""
    drawn = {device.state for device in devices}
    swatches = [
        f'<i style="background:{colour}"></i>'
        f"{html.escape(language.gettext(DEVICE_STATE_LABELS[state]))}"
        for state, colour in DEVICE_STATE_COLOURS.items()
        if state in drawn
    ]
    return "<br>" + "<br>".join(swatches)


def compact_json_in_templates() -> None:
    """Make Folium's `tojson` write no spaces and raw UTF-8 (names stay 3 bytes a character, not
    a 6-byte escape): about a third off a page of polygons."""
    environment = Template("").environment
    environment.policies["json.dumps_kwargs"] = {
        "sort_keys": False,
        "separators": (",", ":"),
        "ensure_ascii": False,
    }


def finish_page(
    fmap: folium.Map,
    header: PageHeader,
    legend_html: str,
    assets_url: str,
    language: PageLanguage = ENGLISH,
) -> str:
    """The whole page in the language given: header, map with layer control and legend, assets
    linked locally."""
    compact_json_in_templates()
    folium.LayerControl(collapsed=False).add_to(fmap)
    figure = fmap.get_root()
    assert isinstance(figure, Figure)
    figure.header.add_child(Element(f"<style>{PAGE_CSS}</style>"), name="citygrid_css")
    figure.html.add_child(Element(header_html(header)), name="map_header", index=0)
    figure.html.add_child(Element(f'<div id="map-legend">{legend_html}</div>'), name="legend")
    figure.title = header.title
    localise_assets(fmap, assets_url)
    page: str = figure.render()  # Folium's head declares UTF-8 already
    return page.replace("<html>", f'<html lang="{html.escape(language.code)}">', 1)


def header_html(header: PageHeader) -> str:
    """The header bar: title, filters in words, notices and links (table view, CSV)."""
    links = " · ".join(
        f'<a href="{html.escape(href)}">{html.escape(label)}</a>' for label, href in header.links
    )
    notices = "".join(f'<p class="map-notice">{html.escape(n)}</p>' for n in header.notices)
    return (
        f'<header id="map-header"><h1>{html.escape(header.title)}</h1>'
        f"<p>{html.escape(header.description)}{' · ' + links if links else ''}</p>"
        f"{notices}</header>"
    )
