"""What the map page tests share: the period they ask for and how they read a page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from maps.schemas import MapFilters

PERIOD = {"period_from": "2026-11-01T00:00:00+00:00", "period_to": "2026-11-20T00:00:00+00:00"}
FILTERS = MapFilters(
    period_from=datetime(2026, 11, 1, tzinfo=UTC), period_to=datetime(2026, 11, 20, tzinfo=UTC)
)
ASSET_LINK = re.compile(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"')


def embedded_geojson(page: str) -> list[dict[str, Any]]:
    """The FeatureCollections a page passes to its GeoJSON layers."""
    found = re.findall(r"_add\((\{\"type\":\"FeatureCollection\".*?\})\);\n", page)
    return [json.loads(text) for text in found]


# PERIOD as the city (Asia/Shanghai) reads it, in citygrid.web.TIME_FORMAT.
PLANTED_PERIOD_IN_CITY_TIME = "2026-11-01 08:00 – 2026-11-20 08:00"
