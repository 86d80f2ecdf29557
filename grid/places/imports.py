"""Importing a gazetteer: standard addresses and points of interest with their coordinates.

A file is a CSV (columns `name`, `lon`, `lat`, optional `kind`) or a GeoJSON of points (property
`name`, optional `kind`); `kind` is `address` (the default) or `poi`. Coordinates are in the
datum the caller names (WGS-84, GCJ-02 or BD-09, converted with grid.geometry). Every row is
checked (a name, a normal form, a known kind, a number, a point in one of the district's cells,
no two rows with one normal form) and nothing is written unless all are good. Text is read as
UTF-8 unless --encoding names another (GBK text read as UTF-8 is refused naming the encoding,
see grid.file_encoding). Rows already in the gazetteer (same district, kind and normal form)
are counted, not written twice, so an import can be repeated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.errors import InvalidInput, NotFound
from grid import import_toolkit as toolkit
from grid.geometry import converter_to_wgs84, normalise_crs_name
from grid.import_toolkit import Problem, field_text, problem, rejection
from grid.places.addresses import parse_address

KINDS = ("address", "poi")
DATUMS = ("wgs84", "gcj02", "bd09")
SUFFIXES = (".csv", ".geojson", ".json")
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class PlaceRow:
    """One place as read, in WGS-84 (NaN when the file gave no usable coordinates)."""

    index: int  # 0-based position in the file, named in every problem
    name: str | None
    kind: str | None
    lon: float
    lat: float
    reason: str | None = None  # why the row's coordinates could not be read


@dataclass(frozen=True)
class PlacesReport:
    added: int
    already_there: int
    skipped_outside: int = 0


def read_places(path: Path, *, datum: str = "wgs84", encoding: str | None = None) -> list[PlaceRow]:
    """The rows of a CSV or GeoJSON gazetteer file, converted from `datum` to WGS-84."""
    if datum.lower() not in DATUMS:
        raise InvalidInput(f"unknown datum {datum!r}; use {', '.join(DATUMS)}", field="datum")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(f"{path.name}: use a file ending in {', '.join(SUFFIXES)}", field="file")
    if suffix == ".csv":
        columns = dict(toolkit.read_columns(path, encoding=encoding, code_field="name"))
        lon, lat, reasons = _csv_coordinates(columns)
    else:
        layer = toolkit.read_layer(path, encoding=encoding, code_field="name")
        columns = dict(layer.columns)
        lon, lat, reasons = _point_coordinates(layer.wkbs)
    with np.errstate(all="ignore"):
        wgs84 = converter_to_wgs84(normalise_crs_name(datum))(np.column_stack([lon, lat]))
    names = _text_column(columns, "name", len(lon), path)
    kinds = _text_column(columns, "kind", len(lon), None)
    return [
        PlaceRow(i, names[i], kinds[i], float(wgs84[i, 0]), float(wgs84[i, 1]), reasons.get(i))
        for i in range(len(lon))
    ]


def _text_column(
    columns: dict[str, Any], name: str, count: int, required_in: Path | None
) -> list[str | None]:
    by_lower = {key.lower(): key for key in columns}
    if name not in by_lower:
        if required_in is not None:
            raise InvalidInput(
                f"{required_in.name} has no column {name!r} (columns: {', '.join(columns)})",
                field="file",
            )
        return [None] * count
    return [field_text(value) for value in columns[by_lower[name]].tolist()]


def _csv_coordinates(
    columns: dict[str, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], dict[int, str]]:
    by_lower = {key.lower(): key for key in columns}
    for lon_name, lat_name in (("lon", "lat"), ("lng", "lat"), ("x", "y")):
        if lon_name in by_lower and lat_name in by_lower:
            break
    else:
        raise InvalidInput(
            f"the CSV has no coordinate columns lon/lat (columns: {', '.join(columns)})",
            field="file",
        )
    lon, lon_reasons = _numbers(columns[by_lower[lon_name]].tolist(), lon_name)
    lat, lat_reasons = _numbers(columns[by_lower[lat_name]].tolist(), lat_name)
    return lon, lat, {**lat_reasons, **lon_reasons}


def _numbers(values: list[Any], column: str) -> tuple[np.ndarray[Any, Any], dict[int, str]]:
    numbers = np.full(len(values), np.nan)
    reasons: dict[int, str] = {}
    for row, value in enumerate(values):
        try:
            numbers[row] = float(value)
        except (TypeError, ValueError):
            shown = "empty" if value is None or not str(value).strip() else repr(value)
            reasons[row] = f"{column} is {shown}, not a number"
            continue
        if not math.isfinite(numbers[row]):
            reasons[row] = f"{column} is {value!r}, not a finite number"
    return numbers, reasons


def _point_coordinates(
    wkbs: Any,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], dict[int, str]]:
    with np.errstate(invalid="ignore"):
        geometries = shapely.from_wkb(wkbs, on_invalid="ignore")
    lon = np.full(len(geometries), np.nan)
    lat = np.full(len(geometries), np.nan)
    reasons: dict[int, str] = {}
    for row, geometry in enumerate(geometries):
        if geometry is None or shapely.get_type_id(geometry) != shapely.GeometryType.POINT:
            kind = "no geometry" if geometry is None else geometry.geom_type
            reasons[row] = f"geometry is {kind}; only Point is accepted"
        elif geometry.is_empty:
            reasons[row] = "geometry is an empty point"
        else:
            lon[row], lat[row] = geometry.x, geometry.y
    return lon, lat, reasons


def row_problems(rows: Sequence[PlaceRow]) -> list[Problem]:
    """What is wrong with each row on its own, and rows repeating another's normal form."""
    problems: list[Problem] = []
    first_of: dict[tuple[str, str], int] = {}
    for row in rows:
        reasons = _reasons(row)
        if not reasons and row.name is not None:
            key = (row.kind or "address", parse_address(row.name).normal_form())
            if key in first_of:
                reasons.append(f"the same place as row {first_of[key]} ({key[1]})")
            first_of.setdefault(key, row.index)
        problems.extend(problem(row.index, row.name, reason) for reason in reasons)
    return problems


def _reasons(row: PlaceRow) -> list[str]:
    reasons = [row.reason] if row.reason else []
    if not row.name:
        reasons.append("name is empty")
    elif len(row.name) > MAX_NAME_CHARS:
        reasons.append(f"name is longer than {MAX_NAME_CHARS} characters")
    elif not parse_address(row.name).road:
        reasons.append(f"name {row.name!r} has no road or place name")
    if row.kind is not None and row.kind not in KINDS:
        reasons.append(f"kind is {row.kind!r}; use {' or '.join(KINDS)}")
    if not row.reason and not (-180 <= row.lon <= 180 and -90 <= row.lat <= 90):
        reasons.append(f"lon/lat {row.lon:.6f}, {row.lat:.6f} is not on the globe")
    return reasons


LOCATE_ROWS = text("""
SELECT input.i, cell.id AS cell_id
FROM unnest(CAST(:i AS int[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]))
     AS input(i, lon, lat)
LEFT JOIN LATERAL (
    SELECT c.id FROM grid_cell c
    JOIN grid_region community ON community.id = c.community_id
    JOIN grid_region street ON street.id = community.parent_id
    WHERE street.parent_id = :district_id
      AND ST_Intersects(c.geom, ST_SetSRID(ST_MakePoint(input.lon, input.lat), 4326))
    ORDER BY c.id LIMIT 1
) cell ON true
""")

INSERT_PLACES = text("""
INSERT INTO place (district_id, kind, name, normalised, street_name, community_name, road,
                   number, building, geom, cell_id, source)
SELECT :district_id, input.kind, input.name, input.normalised, street.name, community.name,
       input.road, input.number, input.building,
       ST_SetSRID(ST_MakePoint(input.lon, input.lat), 4326), input.cell_id, :source
FROM unnest(CAST(:kind AS text[]), CAST(:name AS text[]), CAST(:normalised AS text[]),
            CAST(:road AS text[]), CAST(:number AS text[]), CAST(:building AS text[]),
            CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:cell_id AS int[]))
     AS input(kind, name, normalised, road, number, building, lon, lat, cell_id)
JOIN grid_cell cell ON cell.id = input.cell_id
JOIN grid_region community ON community.id = cell.community_id
JOIN grid_region street ON street.id = community.parent_id
ON CONFLICT (district_id, kind, normalised) DO NOTHING
""")

INSERT_ROADS = text("""
INSERT INTO place_road (district_id, road)
SELECT DISTINCT :district_id, road FROM unnest(CAST(:road AS text[])) AS input(road)
ON CONFLICT (district_id, road) DO NOTHING
""")


def district_id(session: Session, district_code: str) -> int:
    """The id of the district with `district_code`; NotFound when there is none."""
    found = session.scalar(
        text("SELECT id FROM grid_region WHERE level = 'district' AND code = :code"),
        {"code": district_code},
    )
    if found is None:
        raise NotFound(f"no district with code {district_code!r}", field="district")
    return int(found)


def write_places(
    session: Session,
    rows: Sequence[PlaceRow],
    *,
    district_code: str,
    source: str,
    outside: Literal["refuse", "skip"] = "refuse",
) -> PlacesReport:
    """Check every row, locate each in the district's cells, and write them all or none
    (ImportRejected listing every problem). `outside="skip"` drops the rows outside the
    district's cells instead of refusing them (the demo's hand-placed roads)."""
    district = district_id(session, district_code)
    problems = row_problems(rows)
    bad = {found["index"] for found in problems}
    good = [row for row in rows if row.index not in bad]
    cells = _cells_of(session, good, district)
    outside_rows = [row for row in good if cells[row.index] is None]
    if outside == "refuse":
        problems.extend(
            problem(
                row.index,
                row.name,
                f"{row.lon:.6f}, {row.lat:.6f} lies in none of the "
                f"cells of district {district_code}",
            )
            for row in outside_rows
        )
    if problems:
        raise rejection(problems, total=len(rows), unit="places")
    inside = [row for row in good if cells[row.index] is not None]
    added = _insert(session, inside, cells, district=district, source=source)
    return PlacesReport(added, len(inside) - added, len(outside_rows))


def _cells_of(session: Session, rows: Sequence[PlaceRow], district: int) -> dict[int, int | None]:
    if not rows:
        return {}
    found = session.execute(
        LOCATE_ROWS,
        {
            "i": [row.index for row in rows],
            "lon": [row.lon for row in rows],
            "lat": [row.lat for row in rows],
            "district_id": district,
        },
    )
    return {int(i): None if cell is None else int(cell) for i, cell in found}


def _insert(
    session: Session,
    rows: Sequence[PlaceRow],
    cells: dict[int, int | None],
    *,
    district: int,
    source: str,
) -> int:
    if not rows:
        return 0
    parsed = [parse_address(row.name or "") for row in rows]
    result = session.execute(
        INSERT_PLACES,
        {
            "district_id": district,
            "source": source,
            "kind": [row.kind or "address" for row in rows],
            "name": [row.name for row in rows],
            "normalised": [parts.normal_form() for parts in parsed],
            "road": [parts.road for parts in parsed],
            "number": [parts.number for parts in parsed],
            "building": [parts.building for parts in parsed],
            "lon": [row.lon for row in rows],
            "lat": [row.lat for row in rows],
            "cell_id": [cells[row.index] for row in rows],
        },
    )
    session.execute(
        INSERT_ROADS, {"district_id": district, "road": sorted({parts.road for parts in parsed})}
    )
    session.flush()
    return int(result.rowcount)  # type: ignore[attr-defined]
