"""Folium pages for the maps: heatmap, choropleth and hotspots, with their assets served locally.

Pure: plain values in, an HTML string out. Every CSS/JS link Folium would take from a CDN is
replaced by the application's own copy (`ASSET_FILES`); `inline_assets` turns a page into a
standalone file for `citygrid maps export`.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import mapclassify
import numpy as np
from branca.element import Element, Figure
from folium.plugins import FastMarkerCluster, HeatMap
from folium.template import Template
from folium.utilities import JsCode

from components.query_schemas import MapComponent
from maps.schemas import CaseMarker, CellHotspot, HotspotClass, UnitValue

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
ASSETS_URL = "/maps/assets"
# Folium's resource names → our vendored files (relative to ASSETS_DIR). A name not listed here
# is dropped if it is in UNUSED_ASSETS, and refused otherwise: no page may link another host.
ASSET_FILES: dict[str, str] = {
    "leaflet": "leaflet/leaflet.js",
    "leaflet_css": "leaflet/leaflet.css",
    "leaflet-heat.js": "leaflet.heat/leaflet-heat.js",
    "markerclusterjs": "leaflet.markercluster/leaflet.markercluster.js",
    "markerclustercss": "leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "leaflet.markercluster/MarkerCluster.Default.css",
}
# Bootstrap, jQuery and the awesome-markers icons: Folium links them for popups and icons our
# pages do not use (markers are circle markers, tooltips are Leaflet's own).
UNUSED_ASSETS = frozenset(
    {
        "jquery",
        "bootstrap",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers",
        "awesome_markers_css",
        "awesome_markers_font_css",
        "awesome_rotate_css",
    }
)

COORDINATE_DECIMALS = 5  # about 1 m: finer digits only make the page bigger
MAX_ZOOM = 19  # without tiles nothing else sets it, and the marker clusters need one
HEAT_POINTS_MAX = 20_000  # ~30 bytes each
OUTLINE_POSITIONS_MAX = 25_000  # ~20 bytes each: the base outlines stay under ~0.5 MB
OUTLINE_LEVELS_FINEST_FIRST = (
    "community",
    "street",
)  # beyond this, points are merged on a coarser grid
HEAT_BIN_START_DEG = 0.0005
# ColorBrewer YlOrRd, 3 to 9 classes.
YL_OR_RD: dict[int, list[str]] = {
    3: ["#ffeda0", "#feb24c", "#f03b20"],
    4: ["#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c"],
    5: ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"],
    6: ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"],
    7: ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"],
    8: ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"],
    9: [
        "#ffffcc",
        "#ffeda0",
        "#fed976",
        "#feb24c",
        "#fd8d3c",
        "#fc4e2a",
        "#e31a1c",
        "#bd0026",
        "#800026",
    ],
}
NO_DATA_COLOUR = "#d9d9d9"
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
    HotspotClass.HOT99: "Hot spot, 99 % confidence",
    HotspotClass.HOT95: "Hot spot, 95 %",
    HotspotClass.HOT90: "Hot spot, 90 %",
    HotspotClass.NS: "Not significant",
    HotspotClass.COLD90: "Cold spot, 90 %",
    HotspotClass.COLD95: "Cold spot, 95 %",
    HotspotClass.COLD99: "Cold spot, 99 %",
}
SCHEMES = ("quantiles", "natural_breaks", "user")
COMPONENT_STATUS_COLOURS = {"in_use": "#1a9850", "damaged": "#d73027", "removed": "#969696"}
COMPONENT_STATUS_LABELS = {"in_use": "in use", "damaged": "damaged", "removed": "removed"}
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


@dataclass(frozen=True)
class ClassBreaks:
    """Upper bounds of each class (the last is the maximum) and the scheme that chose them."""

    scheme: str
    upper_bounds: list[float]

    def class_of(self, value: float) -> int:
        """The index of the class a value falls in."""
        for index, bound in enumerate(self.upper_bounds):
            if value <= bound:
                return index
        return len(self.upper_bounds) - 1


def class_breaks(
    values: Sequence[float], *, scheme: str, k: int, user_bounds: Sequence[float] | None = None
) -> ClassBreaks:
    """Class breaks from mapclassify: quantiles, natural breaks (Jenks) or user-set bounds."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown classification scheme {scheme!r}")
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return ClassBreaks(scheme, [0.0])
    distinct = np.unique(array).size
    k = max(1, min(k, distinct))
    if scheme == "user":
        bounds = sorted(user_bounds or [])
        if not bounds:
            raise ValueError("user-set classes need at least one bound")
        classifier = mapclassify.UserDefined(array, bins=bounds)
    elif k == 1:
        return ClassBreaks(scheme, [float(array.max())])
    elif scheme == "quantiles":
        classifier = mapclassify.Quantiles(array, k=k)
    else:
        classifier = mapclassify.NaturalBreaks(array, k=k, initial=5)
    return ClassBreaks(scheme, sorted({float(bound) for bound in classifier.bins}))


def palette(class_count: int) -> list[str]:
    """A sequential palette with one colour per class."""
    if class_count <= 3:
        return YL_OR_RD[3][-class_count:] if class_count else []
    return YL_OR_RD[min(class_count, 9)][:class_count] + [YL_OR_RD[9][-1]] * (class_count - 9)


def coarsened_heat_points(
    points: Sequence[tuple[float, float, float]], *, max_points: int = HEAT_POINTS_MAX
) -> list[list[float]]:
    """Heat points as [lat, lon, intensity 0..1], merged on ever coarser bins until few enough."""
    if not points:
        return []
    array = np.asarray(points, dtype=float)
    bin_deg = HEAT_BIN_START_DEG
    while len(array) > max_points:
        array = _merged_on_bins(array, bin_deg)
        bin_deg *= 1.5
    array[:, :2] = array[:, :2].round(COORDINATE_DECIMALS)
    array[:, 2] = (array[:, 2] / (array[:, 2].max() or 1.0)).round(3)
    rows: list[list[float]] = array.tolist()
    return rows


def _merged_on_bins(array: np.ndarray[Any, Any], bin_deg: float) -> np.ndarray[Any, Any]:
    """Points summed per bin of bin_deg degrees, placed at their weighted centre."""
    rows = np.floor(array[:, 0] / bin_deg).astype(np.int64)
    columns = np.floor(array[:, 1] / bin_deg).astype(np.int64)
    keys = (rows - rows.min()) * (int(columns.max() - columns.min()) + 1) + columns - columns.min()
    _, bin_of_point = np.unique(keys, return_inverse=True)
    weights = np.bincount(bin_of_point, weights=array[:, 2])
    safe = np.where(weights > 0, weights, 1.0)
    lat = np.bincount(bin_of_point, weights=array[:, 0] * array[:, 2]) / safe
    lon = np.bincount(bin_of_point, weights=array[:, 1] * array[:, 2]) / safe
    return np.column_stack([lat, lon, weights])


def trimmed_outlines(
    outlines: dict[str, Any], *, max_positions: int = OUTLINE_POSITIONS_MAX
) -> tuple[dict[str, Any], list[str]]:
    """The base outlines without their finest levels while they have too many vertices, and
    which levels were left out."""
    features = list(outlines.get("features", []))
    dropped: list[str] = []
    for level in OUTLINE_LEVELS_FINEST_FIRST:
        if sum(position_count(f.get("geometry")) for f in features) <= max_positions:
            break
        features = [f for f in features if f["properties"].get("level") != level]
        dropped.append(level)
    return {"type": "FeatureCollection", "features": features}, dropped


def position_count(geometry: dict[str, Any] | None) -> int:
    """How many coordinate pairs a GeoJSON geometry has."""
    return 0 if not geometry else sum(1 for _ in _positions(geometry["coordinates"]))


def new_map(base: BaseLayer, bounds: list[list[float]] | None) -> folium.Map:
    """A Folium map on the configured base: XYZ tiles, or the grid outlines as the base layer."""
    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    fmap.options["maxZoom"] = MAX_ZOOM  # folium gives max_zoom only to its own tile layer
    if base.tiles_url:
        folium.TileLayer(base.tiles_url, attr=base.attribution, name="Base map").add_to(fmap)
    if base.outlines and base.outlines.get("features"):
        _add_outlines(fmap, base.outlines, as_base=not base.tiles_url)
    if bounds:
        fmap.fit_bounds(padded(bounds))
    return fmap


def padded(bounds: list[list[float]], margin_deg: float = 0.001) -> list[list[float]]:
    """Bounds widened a little, so a single point (zero size) still gives a finite zoom."""
    (south, west), (north, east) = bounds
    return [[south - margin_deg, west - margin_deg], [north + margin_deg, east + margin_deg]]


def _add_outlines(fmap: folium.Map, outlines: dict[str, Any], *, as_base: bool) -> None:
    weights = {"district": 2.5, "street": 1.5, "community": 0.7}
    folium.GeoJson(
        outlines,
        name="Grid outlines (district, street, community)",
        overlay=not as_base,
        style_function=lambda feature: {
            "color": "#555555",
            "weight": weights.get(feature["properties"].get("level"), 0.7),
            "fill": False,
        },
        tooltip=folium.GeoJsonTooltip(fields=["code", "name"], aliases=["Code", "Name"]),
        smooth_factor=1.5,
    ).add_to(fmap)


def heatmap_page(
    points: Sequence[tuple[float, float, float]],
    *,
    base: BaseLayer,
    header: PageHeader,
    markers: Sequence[CaseMarker] | None = None,
    components: Sequence[MapComponent] | None = None,
    assets_url: str = ASSETS_URL,
) -> str:
    """The heatmap page: per-cell weighted points (merged when many), optional case markers
    and components."""
    heat = coarsened_heat_points(points)
    fmap = new_map(base, bounds_of_points(heat) or outline_bounds(base.outlines))
    if heat:
        HeatMap(  # type: ignore[no-untyped-call]
            heat, name="Reports (heat)", radius=18, blur=14, min_opacity=0.3
        ).add_to(fmap)
    add_markers(fmap, markers)
    add_components(fmap, components)
    legend = "<b>Reports</b><br>intensity relative to the busiest spot"
    return finish_page(fmap, header, legend + component_legend(components), assets_url)


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
    assets_url: str = ASSETS_URL,
) -> str:
    """The choropleth page: units coloured by class, a legend, a tooltip per unit, optional
    case markers and components."""
    colours = palette(len(breaks.upper_bounds))
    features, colour_of = choropleth_features(outlines, values, breaks, colours)
    fmap = new_map(base, outline_bounds(features))
    if features["features"]:
        _add_choropleth_layer(fmap, features, colour_of, metric_label)
    add_markers(fmap, markers)
    add_components(fmap, components)
    legend = choropleth_legend(metric_label, breaks, colours) + component_legend(components)
    return finish_page(fmap, header, legend, assets_url)


def _add_choropleth_layer(
    fmap: folium.Map, features: dict[str, Any], colour_of: dict[str, str], metric_label: str
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
            fields=["code", "name", "value"], aliases=["Code", "Name", metric_label]
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


def choropleth_legend(metric_label: str, breaks: ClassBreaks, colours: Sequence[str]) -> str:
    """Legend HTML: one swatch per class with its range, and the no-data swatch."""
    rows = [f"<b>{html.escape(metric_label)}</b> ({html.escape(breaks.scheme)})"]
    lower: str | None = None
    for bound, colour in zip(breaks.upper_bounds, colours, strict=True):
        span = f"≤ {format_value(bound)}" if lower is None else f"{lower} – {format_value(bound)}"
        rows.append(f'<i style="background:{colour}"></i>{span}')
        lower = format_value(bound)
    rows.append(f'<i style="background:{NO_DATA_COLOUR}"></i>no value')
    return "<br>".join(rows)


def hotspots_page(
    cells: Sequence[CellHotspot],
    geometries: dict[int, dict[str, Any]],
    *,
    base: BaseLayer,
    header: PageHeader,
    components: Sequence[MapComponent] | None = None,
    assets_url: str = ASSETS_URL,
) -> str:
    """The hotspot page: the given cells coloured by Gi* class, tooltip with z, p and trend;
    optional components."""
    features = hotspot_features(cells, geometries)
    fmap = new_map(base, outline_bounds(features) or outline_bounds(base.outlines))
    if features["features"]:
        _add_hotspot_layer(fmap, features)
    add_components(fmap, components)
    legend = "<b>Getis-Ord Gi*</b> (FDR-corrected)<br>" + "<br>".join(
        f'<i style="background:{HOTSPOT_COLOURS[cls]}"></i>{HOTSPOT_LABELS[cls]}'
        for cls in HotspotClass
    )
    trend_note = "<br>trend (new, intensifying, …): in each cell's tooltip"
    legend += trend_note + component_legend(components)
    return finish_page(fmap, header, legend, assets_url)


def _add_hotspot_layer(fmap: folium.Map, features: dict[str, Any]) -> None:
    folium.GeoJson(
        features,
        name="Hot and cold spots (Gi*)",
        style_function=lambda feature: {
            "fillColor": HOTSPOT_COLOURS[HotspotClass(feature["properties"]["class"])],
            "color": HOTSPOT_COLOURS[HotspotClass(feature["properties"]["class"])],
            "weight": 0.5,
            "fillOpacity": 0.8,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["code", "name", "count", "z", "p", "class", "trend"],
            aliases=["Code", "Name", "Reports", "z", "p", "Class", "Trend"],
        ),
    ).add_to(fmap)


def hotspot_features(
    cells: Sequence[CellHotspot], geometries: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """A FeatureCollection of the cells that have a geometry, with class colour and statistics."""
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
                "class": cell.hotspot_class.value,
                "trend": cell.trend.value,
            },
        }
        for cell in cells
        if cell.cell_id in geometries
    ]
    return {"type": "FeatureCollection", "features": features}


def add_markers(fmap: folium.Map, markers: Sequence[CaseMarker] | None) -> None:
    """Clustered circle markers, one per case, drawn in the browser from a compact array."""
    if not markers:
        return
    rows = [
        [round(m.lat, COORDINATE_DECIMALS), round(m.lon, COORDINATE_DECIMALS), m.number,
         m.status, m.category_code, m.urgency]
        for m in markers
    ]  # fmt: skip
    callback = JsCode(
        """function (row) {
            var marker = L.circleMarker(new L.LatLng(row[0], row[1]),
                {radius: 6, color: row[5] === 'urgent' ? '#c00' : '#036', weight: 2});
            marker.bindTooltip(row[2] + ' · ' + row[3] + ' · ' + row[4] + ' · ' + row[5]);
            return marker;
        }"""
    )
    FastMarkerCluster(  # type: ignore[no-untyped-call]
        rows, callback=callback, name="Cases"
    ).add_to(fmap)


def component_features(components: Sequence[MapComponent]) -> dict[str, Any]:
    """The components as a FeatureCollection: popup fields (HTML-escaped, as the popup
    writes them as HTML) and a style by status (points filled, lines and areas outlined)."""
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
            "status": COMPONENT_STATUS_LABELS.get(component.status, component.status),
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


def add_components(fmap: folium.Map, components: Sequence[MapComponent] | None) -> None:
    """The component layer: circle markers coloured by status, outlines for lines and areas,
    a popup with code, category, maintainer, status and the cases in the period."""
    if not components:
        return
    folium.GeoJson(
        component_features(components),
        name=f"Components ({len(components):,})",
        marker=folium.CircleMarker(radius=COMPONENT_POINT_RADIUS_PX),
        popup=folium.GeoJsonPopup(
            fields=["code", "category", "maintainer", "status", "cases"],
            aliases=["Component", "Category", "Maintainer", "Status", "Cases in period"],
        ),
    ).add_to(fmap)


def component_legend(components: Sequence[MapComponent] | None) -> str:
    """Legend lines for the component statuses drawn ("" without components)."""
    if not components:
        return ""
    drawn = {component.status for component in components}
    swatches = [
        f'<i style="background:{colour}"></i>components {COMPONENT_STATUS_LABELS[status]}'
        for status, colour in COMPONENT_STATUS_COLOURS.items()
        if status in drawn
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


def finish_page(fmap: folium.Map, header: PageHeader, legend_html: str, assets_url: str) -> str:
    """The whole page: header, map with layer control and legend, assets linked locally."""
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
    return page


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


def localise_assets(root: Element, assets_url: str) -> None:
    """Point every JS/CSS link of the map's elements at our copies; unused ones are dropped."""
    for element in walk(root):
        for kind in ("default_js", "default_css"):
            links = getattr(element, kind, None)
            if links is None:
                continue
            setattr(element, kind, [(name, local_url(name, assets_url)) for name, _ in links
                                    if name not in UNUSED_ASSETS])  # fmt: skip


def local_url(name: str, assets_url: str) -> str:
    """Our URL for a resource Folium names; an unknown resource is an error, not a CDN link."""
    if name not in ASSET_FILES:
        raise ValueError(f"no local copy of the map resource {name!r}: vendor it in maps/assets")
    return f"{assets_url}/{ASSET_FILES[name]}"


def walk(element: Element) -> Iterable[Element]:
    """The element and all its descendants."""
    yield element
    for child in list(element._children.values()):
        yield from walk(child)


_LINKED_SCRIPT = re.compile(r'<script src="(?P<url>[^"]+)"></script>')
_LINKED_STYLE = re.compile(r'<link rel="stylesheet" href="(?P<url>[^"]+)"\s*/>')
_CSS_URL = re.compile(r"url\((?P<path>images/[^)]+\.png)\)")


def inline_assets(page: str, assets_url: str = ASSETS_URL) -> str:
    """The page with every local script and stylesheet inlined, so the file opens offline."""

    def script(match: re.Match[str]) -> str:
        source = asset_text(match["url"], assets_url).replace("</script", "<\\/script")
        return f"<script>{source}</script>"

    def style(match: re.Match[str]) -> str:
        path = asset_path(match["url"], assets_url)
        css = path.read_text(encoding="utf-8")
        return f"<style>{_CSS_URL.sub(lambda m: data_url(path.parent / m['path']), css)}</style>"

    return _LINKED_STYLE.sub(style, _LINKED_SCRIPT.sub(script, page))


def asset_path(url: str, assets_url: str) -> Path:
    """The vendored file behind one of our asset URLs."""
    if not url.startswith(assets_url + "/"):
        raise ValueError(f"the page links {url}, which is not one of the map assets")
    return ASSETS_DIR / url.removeprefix(assets_url + "/")


def asset_text(url: str, assets_url: str) -> str:
    return asset_path(url, assets_url).read_text(encoding="utf-8")


def data_url(path: Path) -> str:
    """A CSS url() holding the PNG itself."""
    return f"url(data:image/png;base64,{base64.b64encode(path.read_bytes()).decode('ascii')})"


def outline_bounds(collection: dict[str, Any] | None) -> list[list[float]] | None:
    """[[south, west], [north, east]] of a FeatureCollection, None when it is empty."""
    if not collection:
        return None
    lons: list[float] = []
    lats: list[float] = []
    for feature in collection.get("features", []):
        geometry = feature.get("geometry")
        if geometry:
            flat = np.asarray(list(_positions(geometry["coordinates"])), dtype=float)
            lons.extend((float(flat[:, 0].min()), float(flat[:, 0].max())))
            lats.extend((float(flat[:, 1].min()), float(flat[:, 1].max())))
    if not lons:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def _positions(coordinates: Any) -> Iterable[list[float]]:
    if coordinates and isinstance(coordinates[0], int | float):
        yield coordinates
        return
    for part in coordinates:
        yield from _positions(part)


def bounds_of_points(points: Sequence[Sequence[float]]) -> list[list[float]] | None:
    """[[south, west], [north, east]] of [lat, lon, …] points, None when there are none."""
    if not points:
        return None
    array = np.asarray([point[:2] for point in points], dtype=float)
    return [array.min(axis=0).tolist(), array.max(axis=0).tolist()]


def format_value(value: float | None) -> str:
    """A value as the legend, tooltip and table show it (integers without decimals)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1 else f"{value:,.2f}"
