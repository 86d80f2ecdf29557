"""The vendored Leaflet files behind every map page: Folium's CDN links pointed at our copies,
and a page turned into a standalone file (`citygrid maps export`) by inlining them."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from branca.element import Element

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
