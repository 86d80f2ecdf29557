"""The component a report is about: the nearest inventoried one of its category, within a radius.

One indexed statement. The GiST index on `component.geom` (degrees) answers a box around the
point that is sure to hold the radius: a metre-wide box would be `radius / metres per degree`,
and a degree is never shorter than METRES_PER_DEGREE_MIN (110.57 km of latitude at the equator,
longitude's degree shrinks with cos(latitude), which the box widens for). Inside the box the
distance is measured on the geography (metres on the spheroid, to the nearest point of a line
or polygon), so a fence or a green belt matches where the report is closest to it.

The category is compared as `category_id + 0`, which no index answers: with an analysed million
components the planner otherwise ANDs the GiST box with the category's b-tree index, reading
that category's hundred thousand entries on every match (measured: BitmapAnd, 5,000 entries
for one match on 50,000 components). The box alone finds a handful of rows.

The SQL is built from expressions (the point, the category, the radius) so that intake can
embed the same query in its one statement; `nearest_component` runs it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from citygrid.db import RowFetcher

# Shorter than any degree of latitude (110,574 m) or of longitude at the equator (111,320 m),
# so the box is never too small; cos(latitude) is floored so the box stays finite at the poles.
METRES_PER_DEGREE_MIN = 110_000.0
COS_LATITUDE_MIN = 0.01


def nearest_component_query(*, point: str, category_id: str, radius_m: str) -> str:
    """A SELECT of (id, code, name, category_id, maintainer_department_id, distance_m) of the
    nearest component (not removed) of the category within the radius, zero or one row.

    `point` is an SQL expression of a WGS-84 point geometry, `category_id` and `radius_m`
    expressions of the category and the radius in metres (columns or placeholders)."""
    half_height = f"({radius_m}) / {METRES_PER_DEGREE_MIN}"
    half_width = (
        f"({radius_m}) / ({METRES_PER_DEGREE_MIN}"
        f" * greatest(cos(radians(ST_Y({point}))), {COS_LATITUDE_MIN}))"
    )
    return f"""SELECT cp.id, cp.code, cp.name, cp.category_id, cp.maintainer_department_id,
           ST_Distance(cp.geom::geography, ({point})::geography) AS distance_m
        FROM component cp
        WHERE cp.category_id + 0 = {category_id} AND cp.status <> 'removed'
          AND cp.geom && ST_Expand({point}, {half_width}, {half_height})
          AND ST_DWithin(cp.geom::geography, ({point})::geography, {radius_m})
        ORDER BY distance_m, cp.id
        LIMIT 1"""


NEAREST_COMPONENT = nearest_component_query(
    point="ST_SetSRID(ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4326)",
    category_id="%(category_id)s::int",
    radius_m="%(radius_m)s::float8",
)


@dataclass(frozen=True)
class ComponentMatch:
    """The component a report was matched to, and how far the report was from it."""

    id: int
    code: str
    name: str | None
    category_id: int
    maintainer_department_id: int | None
    distance_m: float


def match_of_row(row: Any) -> ComponentMatch:
    """A ComponentMatch from a row (or mapping) with the query's columns."""
    values = row if isinstance(row, dict) else row._asdict()
    return ComponentMatch(
        id=values["id"],
        code=values["code"],
        name=values["name"],
        category_id=values["category_id"],
        maintainer_department_id=values["maintainer_department_id"],
        distance_m=float(values["distance_m"]),
    )


def match_params(category_id: int, lon: float, lat: float, radius_m: float) -> dict[str, Any]:
    return {"category_id": category_id, "lon": lon, "lat": lat, "radius_m": radius_m}


async def nearest_component(
    run: RowFetcher, *, category_id: int, lon: float, lat: float, radius_m: float
) -> ComponentMatch | None:
    """The nearest component of the category within `radius_m` of (lon, lat), or None
    (through the hot path's async statements)."""
    rows = await run(NEAREST_COMPONENT, match_params(category_id, lon, lat, radius_m))
    return match_of_row(rows[0]) if rows else None


def nearest_component_sync(
    session: Session, *, category_id: int, lon: float, lat: float, radius_m: float
) -> ComponentMatch | None:
    """The same as `nearest_component`, through a Session."""
    params = match_params(category_id, lon, lat, radius_m)
    row = session.connection().exec_driver_sql(NEAREST_COMPONENT, params).first()
    return match_of_row(row) if row is not None else None


def radius_of(category_radius_m: float | None, default_radius_m: float) -> float:
    """The category's own matching radius, else the setting's."""
    return default_radius_m if category_radius_m is None else category_radius_m
