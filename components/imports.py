"""Importing components: every row checked, and nothing written unless all are good.

A file (GeoJSON, GeoPackage, Shapefile, or CSV with lon/lat columns) is read column by column
with pyogrio and numpy and converted to WGS-84 as the grid import does. Identifiers and
geometries are checked in Python over whole columns, and each geometry's cell is found by the
grid's in-process cell index (as bulk geolocation does: several times faster than a spatial join
in PostGIS for a million points). Everything else runs in PostGIS over a staged temporary table:
the rows are COPYed in, one statement resolves categories, departments, cells (by code) and
existing components by hash joins, one statement lists the rows with problems, and one
INSERT … SELECT writes the components with their 'imported' history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyogrio.errors
import pyogrio.raw
import shapely
from sqlalchemy import CursorResult, text
from sqlalchemy.orm import Session

from citygrid.errors import ImportRejected, InvalidInput
from components.codes import (
    VALID_CODE_PATTERN,
    category_problem,
    code_problem,
)
from components.schemas import ComponentStatus, ImportResult
from grid.geometry import WGS84, converter_to_wgs84, geometries_to_wgs84, normalise_crs_name
from grid.imports import (
    MAX_VERTICES,
    Problem,
    ProgressCallback,
    _file_crs,
    _read_layer,
    field_text,
    too_many_vertices,
)
from grid.index import cell_index_for
from grid.service import grid_revision

TEXT_FIELDS = ("code", "category", "status", "name", "address", "owner", "supervisor", "maintainer")
DEPARTMENT_FIELDS = ("owner", "supervisor", "maintainer")
DEFAULT_POINT_COLUMNS = (("lon", "lat"), ("x", "y"))
FORMAT_OF_SUFFIX = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "Shapefile",
    ".zip": "Shapefile",
    ".csv": "CSV",
}
ACCEPTED_TYPE_IDS = frozenset(
    int(kind)
    for kind in (
        shapely.GeometryType.POINT,
        shapely.GeometryType.LINESTRING,
        shapely.GeometryType.POLYGON,
        shapely.GeometryType.MULTIPOINT,
        shapely.GeometryType.MULTILINESTRING,
        shapely.GeometryType.MULTIPOLYGON,
    )
)
POINT_TYPE_ID = int(shapely.GeometryType.POINT)
STATUS_VALUES = tuple(status.value for status in ComponentStatus)
COPY_PROGRESS_ROWS = 100_000
JSONB_PAIRS_PER_CALL = 40  # jsonb_build_object takes at most 100 arguments


@dataclass(frozen=True)
class PointColumns:
    """The CSV columns holding the coordinates; None: lon/lat, else x/y."""

    lon: str | None = None
    lat: str | None = None


@dataclass
class ComponentTable:
    """The rows of a file column by column, geometries in WGS-84."""

    source_name: str
    source_format: str
    source_crs: str
    texts: dict[str, list[str | None]]  # the TEXT_FIELDS as read; only codes are trimmed yet
    attributes: dict[str, npt.NDArray[Any]]  # every other column, as read
    geometries: npt.NDArray[np.object_]  # shapely geometries; None when missing or unreadable
    geometry_reasons: dict[int, str] = field(default_factory=dict)  # rows that cannot be staged

    def __len__(self) -> int:
        return len(self.geometries)


# ---------------------------------------------------------------------------------------------
# Reading files


def source_format(path: Path) -> str:
    """GeoJSON, GPKG, Shapefile or CSV, by the file's suffix."""
    found = FORMAT_OF_SUFFIX.get(path.suffix.lower())
    if found is None:
        accepted = ", ".join(FORMAT_OF_SUFFIX)
        raise InvalidInput(
            f"{path.name}: unknown format; use a file ending in {accepted}", field="file"
        )
    return found


def read_components(
    path: Path, *, crs: str | None, point_columns: PointColumns = PointColumns()
) -> ComponentTable:
    """The rows of a GeoJSON, GeoPackage, Shapefile or CSV file, converted to WGS-84."""
    if crs is not None:
        converter_to_wgs84(crs)  # an unknown --crs is refused before the file is read
    file_format = source_format(path)
    if file_format == "CSV":
        return _read_csv(path, crs=crs or WGS84, point_columns=point_columns)
    meta, wkbs, columns = _read_layer(path)
    source_crs = normalise_crs_name(crs) if crs else _file_crs(meta.get("crs"))
    with np.errstate(invalid="ignore"):  # unreadable WKB becomes None and is reported later
        parsed = shapely.from_wkb(wkbs, on_invalid="ignore")
    with np.errstate(all="ignore"):  # overflow in the datum formulas shows up as off the globe
        geometries = geometries_to_wgs84(parsed, source_crs)
    return _table(path, file_format, source_crs, columns, geometries, {})


def _read_csv(path: Path, *, crs: str, point_columns: PointColumns) -> ComponentTable:
    """A CSV's rows (every value read as text) with points made from its coordinate columns."""
    columns = _csv_columns(path)
    lon_name, lat_name = _coordinate_columns(list(columns), point_columns)
    lons, lon_reasons = _numbers(columns.pop(lon_name), lon_name)
    lats, lat_reasons = _numbers(columns.pop(lat_name), lat_name)
    with np.errstate(all="ignore"):
        wgs84 = converter_to_wgs84(crs)(np.column_stack([lons, lats]))
    geometries = shapely.points(wgs84).astype(object)
    reasons = {**lat_reasons, **lon_reasons}
    geometries[list(reasons)] = None
    return _table(path, "CSV", normalise_crs_name(crs), columns, geometries, reasons)


def _csv_columns(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The CSV's columns by name; GDAL reads every value as text, so leading zeros stay."""
    try:
        meta, _, _, field_data = pyogrio.raw.read(path, read_geometry=False)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        reason = str(error).replace(f"{path.parent}/", "")
        raise InvalidInput(f"cannot read {path.name}: {reason}", field="file") from error
    if not field_data or len(field_data[0]) == 0:
        raise InvalidInput(f"{path.name} holds no rows", field="file")
    return dict(zip(meta["fields"], field_data, strict=True))


def _coordinate_columns(available: list[str], wanted: PointColumns) -> tuple[str, str]:
    """The names of the lon and lat columns: the ones asked for, else lon/lat or x/y."""
    by_lower = {name.lower(): name for name in available}
    if wanted.lon is not None or wanted.lat is not None:
        pairs: Sequence[tuple[str, str]] = ((wanted.lon or "lon", wanted.lat or "lat"),)
    else:
        pairs = DEFAULT_POINT_COLUMNS
    for lon, lat in pairs:
        if lon.lower() in by_lower and lat.lower() in by_lower:
            return by_lower[lon.lower()], by_lower[lat.lower()]
    asked = " or ".join(f"{lon}/{lat}" for lon, lat in pairs)
    raise InvalidInput(
        f"the CSV has no coordinate columns {asked} (columns: {', '.join(available)}); "
        "name them with --lon-column and --lat-column",
        field="lon_column" if wanted.lon else "file",
    )


def _numbers(
    values: npt.NDArray[Any], column: str
) -> tuple[npt.NDArray[np.float64], dict[int, str]]:
    """The column as floats, and a reason for each row that is not a number."""
    try:
        return np.asarray(values, dtype=np.float64), {}  # the fast path: every value a number
    except (TypeError, ValueError):
        pass
    numbers = np.full(len(values), np.nan)
    reasons: dict[int, str] = {}
    for row, value in enumerate(values.tolist()):
        try:
            numbers[row] = float(value)
        except (TypeError, ValueError):
            shown = "empty" if value is None or not str(value).strip() else f"{value!r}"
            reasons[row] = f"{column} is {shown}, not a number"
    return numbers, reasons


def _table(
    path: Path,
    file_format: str,
    source_crs: str,
    columns: dict[str, npt.NDArray[Any]],
    geometries: npt.NDArray[np.object_],
    geometry_reasons: dict[int, str],
) -> ComponentTable:
    """Split the columns into the known text fields and the attributes."""
    by_lower = {name.lower(): name for name in columns}
    if "code" not in by_lower:
        raise InvalidInput(
            f"{path.name} has no field 'code' (fields: {', '.join(columns) or 'none'})",
            field="file",
        )
    texts: dict[str, list[str | None]] = {
        name: _text_values(columns.pop(by_lower[name]))
        if name in by_lower
        else [None] * len(geometries)
        for name in TEXT_FIELDS
    }
    texts["code"] = [field_text(code) for code in texts["code"]]  # checked in Python: trim now
    return ComponentTable(
        source_name=path.name,
        source_format=file_format,
        source_crs=source_crs,
        texts=texts,
        attributes=columns,
        geometries=np.asarray(geometries, dtype=object),
        geometry_reasons=geometry_reasons,
    )


def _text_values(values: npt.NDArray[Any]) -> list[str | None]:
    """A column as text (blanks are trimmed in SQL); numbers stored as floats lose their `.0`."""
    if values.dtype.kind in "iu":
        return list(values.astype(str).tolist())
    if values.dtype.kind == "f":
        return [field_text(value) for value in values.tolist()]
    return list(values.tolist())  # GDAL gives text fields as str or None


# ---------------------------------------------------------------------------------------------
# Checks of one row at a time: identifiers and geometries


def code_reasons(codes: Sequence[str | None]) -> dict[int, str]:
    """Why each bad identifier is bad, by row. One compiled pattern tests them all (far cheaper
    than a regular expression in PostgreSQL); `code_problem` explains only the failures."""
    valid = re.compile(VALID_CODE_PATTERN).fullmatch
    return {
        row: "code is missing"
        if code is None
        else code_problem(code) or f"identifier {code} is not valid"
        for row, code in enumerate(codes)
        if code is None or valid(code) is None
    }


def geometry_reasons(geometries: npt.NDArray[np.object_]) -> dict[int, str]:
    """Why a geometry cannot be written, for the rows where it cannot (GEOS judges validity)."""
    missing = shapely.is_missing(geometries)
    type_ids = shapely.get_type_id(geometries)
    coords, owners = shapely.get_coordinates(geometries, return_index=True)
    has_nan = np.zeros(len(geometries), dtype=bool)
    has_nan[owners[~np.isfinite(coords).all(axis=1)]] = True
    with np.errstate(invalid="ignore"):
        bounds = shapely.bounds(geometries)
        off_globe = (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1) | (
            np.abs(bounds[:, [1, 3]]) > 90
        ).any(axis=1)
    accepted = np.isin(type_ids, list(ACCEPTED_TYPE_IDS))
    empty = shapely.is_empty(geometries) & ~missing
    vertex_counts = shapely.get_num_coordinates(geometries)
    bad = missing | ~accepted | empty | has_nan | off_globe | (vertex_counts > MAX_VERTICES)
    reasons = {
        row: _geometry_reason(
            geometries[row],
            accepted=bool(accepted[row]),
            nan=bool(has_nan[row]),
            vertices=int(vertex_counts[row]),
        )
        for row in np.flatnonzero(bad).tolist()
    }
    return reasons | _validity_reasons(geometries, ~bad & (type_ids != POINT_TYPE_ID))


def _validity_reasons(
    geometries: npt.NDArray[np.object_], candidates: npt.NDArray[np.bool_]
) -> dict[int, str]:
    """Why each invalid line or polygon among the candidates is invalid (points always are)."""
    rows = np.flatnonzero(candidates)
    invalid = rows[~shapely.is_valid(geometries[rows])]
    return {
        row: f"invalid geometry: {shapely.is_valid_reason(geometries[row])}"
        for row in invalid.tolist()
    }


def _geometry_reason(
    geometry: shapely.Geometry | None, *, accepted: bool, nan: bool, vertices: int
) -> str:
    if geometry is None:
        return "geometry is missing or unreadable"
    if not accepted:
        return f"geometry is a {geometry.geom_type}; only points, lines and polygons are accepted"
    if geometry.is_empty:
        return "geometry is empty"
    if nan:
        return "coordinates are NaN"
    too_many = too_many_vertices(vertices)
    if too_many:
        return too_many
    return "coordinates fall outside longitude/latitude after conversion (wrong --crs?)"


# ---------------------------------------------------------------------------------------------
# Staging


def _attribute_type(values: npt.NDArray[Any]) -> str:
    kind = values.dtype.kind
    return {"i": "bigint", "u": "bigint", "f": "float8", "b": "boolean"}.get(kind, "text")


def _attribute_values(values: npt.NDArray[Any]) -> list[Any]:
    """Values COPY can take and JSON can hold: NaN becomes null, bytes become hex."""
    if values.dtype.kind == "f":
        as_objects = values.astype(object)
        as_objects[~np.isfinite(values)] = None
        return list(as_objects.tolist())
    if values.dtype.kind in "iub":
        return list(values.tolist())
    return [
        None if value is None else value.hex() if isinstance(value, bytes) else str(value)
        for value in values.tolist()
    ]


STAGED_TEXT = (*TEXT_FIELDS, "cell_code")


def _create_staging(session: Session, attributes: dict[str, npt.NDArray[Any]]) -> None:
    attribute_columns = "".join(
        f", a{number} {_attribute_type(values)}"
        for number, values in enumerate(attributes.values())
    )
    session.execute(text("DROP TABLE IF EXISTS pg_temp.component_staging"))
    session.execute(
        text(
            "CREATE TEMP TABLE component_staging (idx integer NOT NULL, code_ok boolean, "
            + " text, ".join(STAGED_TEXT)
            + f" text, geom geometry(Geometry, 4326){attribute_columns}) ON COMMIT DROP"
        )
    )


def cell_codes(session: Session, geometries: npt.NDArray[np.object_]) -> list[str | None]:
    """The code of the cell of each geometry (None: missing, or outside the grid).

    Located in process by the grid's cell index (the one bulk geolocation uses), with the same
    rule: the lowest code wins on a shared edge. Lines and polygons take a point on their surface.
    """
    codes = np.full(len(geometries), None, dtype=object)
    rows = np.flatnonzero(~shapely.is_missing(geometries))
    spots = geometries[rows]
    not_points = shapely.get_type_id(spots) != POINT_TYPE_ID
    spots[not_points] = shapely.point_on_surface(spots[not_points])
    index = cell_index_for(session, grid_revision(session))
    found = index.locate(shapely.get_coordinates(spots))
    inside = found >= 0
    index_codes = np.array([unit.cell_code for unit in index.units], dtype=object)
    codes[rows[inside]] = index_codes[found[inside]]
    return list(codes.tolist())


def _stage(
    session: Session,
    table: ComponentTable,
    *,
    bad_codes: Iterable[int],
    unusable: Iterable[int],
    notify: ProgressCallback,
) -> None:
    """COPY every row into a fresh temporary table; unusable geometries are staged as NULL."""
    _create_staging(session, table.attributes)
    geometries = table.geometries.copy()
    geometries[list(unusable)] = None
    notify("locating cells", 0, len(table))
    cells = cell_codes(session, geometries)
    ewkbs = shapely.to_wkb(shapely.set_srid(geometries, 4326), hex=True, include_srid=True)
    code_ok = np.ones(len(table), dtype=bool)
    code_ok[list(bad_codes)] = False
    columns: list[Sequence[Any]] = [
        range(len(table)),
        code_ok.tolist(),
        *(table.texts[name] for name in TEXT_FIELDS),
        cells,
        ewkbs.tolist(),
        *(_attribute_values(values) for values in table.attributes.values()),
    ]
    notify("staging rows", 0, len(table))
    _copy_rows(session, "COPY component_staging FROM STDIN", columns, notify)  # in table order
    session.execute(text("ANALYZE component_staging"))


def _copy_rows(
    session: Session, statement: str, columns: list[Sequence[Any]], notify: ProgressCallback
) -> None:
    """COPY through the session's own psycopg connection, so it joins the session's transaction."""
    driver_connection = session.connection().connection.driver_connection
    assert driver_connection is not None
    total = len(columns[0])
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for done, row in enumerate(zip(*columns, strict=True), start=1):
            copy.write_row(row)
            if done % COPY_PROGRESS_ROWS == 0:
                notify("staging rows", done, total)


# ---------------------------------------------------------------------------------------------
# Checks in PostGIS

DUPLICATE_CODES = text(
    "SELECT s.idx, s.code, d.n FROM component_resolved s JOIN (SELECT code, count(*) AS n "
    "FROM component_resolved WHERE code IS NOT NULL GROUP BY code HAVING count(*) > 1) d "
    "USING (code) ORDER BY s.idx"
)


def _attributes_sql(count: int) -> str:
    """A jsonb object of the staged attribute columns a0…, keyed :k0…, nulls left out."""
    if count == 0:
        return "'{}'::jsonb"
    calls = []
    for start in range(0, count, JSONB_PAIRS_PER_CALL):
        pairs = (
            f"CAST(:k{n} AS text), s.a{n}"
            for n in range(start, min(count, start + JSONB_PAIRS_PER_CALL))
        )
        calls.append(f"jsonb_build_object({', '.join(pairs)})")
    return f"jsonb_strip_nulls({' || '.join(calls)})"


# Categories by code: a component category first, then a live one (codes may repeat across
# kinds, and across standards when an administrator adds one).
CATEGORIES_BY_CODE = """
    (SELECT DISTINCT ON (code) id, code, kind, level, retired_at IS NOT NULL AS retired
     FROM category ORDER BY code, kind = 'component' DESC, retired_at IS NOT NULL, id)
"""
# Blank text is no value; a row without a category takes the one its identifier names.
TRIMMED_TEXT = ", ".join(f"NULLIF(btrim({name}), '') AS {name}" for name in TEXT_FIELDS)
CATEGORY_KEY = (
    "COALESCE(s.category, CASE WHEN length(s.code) IN (16, 17) "
    "THEN substr(s.code, 7, length(s.code) - 12) END)"
)


def resolve_sql(attribute_count: int) -> str:
    """CREATE TEMP TABLE component_resolved: each staged row with its references resolved."""
    attribute_columns = "".join(f", a{number}" for number in range(attribute_count))
    return f"""
        CREATE TEMP TABLE component_resolved ON COMMIT DROP AS
        SELECT s.idx, s.code, s.category, {CATEGORY_KEY} AS category_key, s.status, s.name,
               s.address, s.geom, s.owner, s.supervisor, s.maintainer,
               s.code_ok, c.id AS category_id, c.code AS category_code,
               c.kind AS category_kind, c.level AS category_level,
               c.retired AS category_retired, owner.id AS owner_id,
               supervisor.id AS supervisor_id, maintainer.id AS maintainer_id,
               cell.id AS cell_id, existing.id AS existing_id,
               {_attributes_sql(attribute_count)} AS attributes
        FROM (SELECT idx, code_ok, geom, cell_code{attribute_columns}, {TRIMMED_TEXT}
              FROM component_staging) s
        LEFT JOIN {CATEGORIES_BY_CODE} c ON c.code = {CATEGORY_KEY}
        LEFT JOIN department owner ON owner.code = s.owner
        LEFT JOIN department supervisor ON supervisor.code = s.supervisor
        LEFT JOIN department maintainer ON maintainer.code = s.maintainer
        LEFT JOIN grid_cell cell ON cell.code = s.cell_code
        LEFT JOIN component existing ON existing.code = s.code
    """


FLAGGED_ROWS = text(
    f"""
    SELECT * FROM component_resolved
    WHERE (code_ok AND (category_id IS NULL OR category_kind <> 'component' OR category_retired
       OR category_level <> 'minor' OR category_code <> substr(code, 7, length(code) - 12)))
       OR (status IS NOT NULL AND status NOT IN {STATUS_VALUES!r})
       OR (owner IS NOT NULL AND owner_id IS NULL)
       OR (supervisor IS NOT NULL AND supervisor_id IS NULL)
       OR (maintainer IS NOT NULL AND maintainer_id IS NULL)
       OR (geom IS NOT NULL AND cell_id IS NULL)
       OR (existing_id IS NOT NULL AND NOT :update)
    ORDER BY idx
    """
)


def _database_problems(
    session: Session, table: ComponentTable, *, update: bool, notify: ProgressCallback
) -> list[Problem]:
    """Problems PostGIS finds: duplicate codes, and every reference that does not resolve."""
    notify("resolving categories, departments and cells", 0, 2)
    keys = {f"k{number}": name for number, name in enumerate(table.attributes)}
    session.execute(text("DROP TABLE IF EXISTS pg_temp.component_resolved"))
    session.execute(text(resolve_sql(len(keys))), keys)
    notify("checking rows", 1, 2)
    problems = [
        _problem(row.idx, row.code, f"code {row.code} appears {row.n} times in the file")
        for row in session.execute(DUPLICATE_CODES)
    ]
    for row in session.execute(FLAGGED_ROWS, {"update": update}):
        problems += [_problem(row.idx, row.code, reason) for reason in row_reasons(row, update)]
    return problems


def row_reasons(row: Any, update: bool) -> list[str]:
    """Every reason a resolved row cannot be written (the row came back from FLAGGED_ROWS)."""
    reasons = _code_reasons(row, update)
    if row.status is not None and row.status not in STATUS_VALUES:
        reasons.append(f"status {row.status!r} is not one of {', '.join(STATUS_VALUES)}")
    for name in DEPARTMENT_FIELDS:
        given = getattr(row, name)
        if given is not None and getattr(row, f"{name}_id") is None:
            reasons.append(f"{name} department {given!r} does not exist")
    if row.geom is not None and row.cell_id is None:
        reasons.append("lies outside the grid: no cell contains it")
    return reasons


def _code_reasons(row: Any, update: bool) -> list[str]:
    """Reasons about the identifier (that it exists) and the category."""
    if not row.code_ok:
        return []  # reported by code_reasons
    reasons = []
    if row.existing_id is not None and not update:
        reasons.append(f"code {row.code} already exists in the database (use update mode)")
    category = row.category_key
    derived = "" if row.category else " (taken from the identifier)"
    if row.category_id is None:
        reasons.append(f"category {category}{derived} does not exist")
    elif row.category_kind != "component":
        reasons.append(f"category {category} is an event category, not a component category")
    elif row.category_retired:
        reasons.append(f"category {category} is retired")
    else:
        mismatch = category_problem(row.code, row.category_code)
        if mismatch is not None:
            reasons.append(mismatch)
    return reasons


def _problem(index: int, code: str | None, reason: str) -> Problem:
    return {"index": index, "code": code, "reason": reason}


# ---------------------------------------------------------------------------------------------
# Importing: stage, check, write

INSERT_IMPORT = text(
    "INSERT INTO component_import (source_name, source_format, source_crs, rows, created_by) "
    "VALUES (:name, :format, :crs, :rows, :by) RETURNING id"
)
# One statement writes the new components and their 'imported' history, in file order.
INSERT_COMPONENTS = text(
    """
    WITH inserted AS (
        INSERT INTO component (code, category_id, geom, cell_id, status, name, address,
                               owner_department_id, supervisor_department_id,
                               maintainer_department_id, attributes, import_id)
        SELECT code, category_id, geom, cell_id, COALESCE(status, 'in_use'), name, address,
               owner_id, supervisor_id, maintainer_id, attributes, :import_id
        FROM component_resolved WHERE existing_id IS NULL ORDER BY idx
        RETURNING id
    )
    INSERT INTO component_change (component_id, action, changed_by, import_id)
    SELECT id, 'imported', :by, :import_id FROM inserted
    """
)


def _changed(column: str, new_value: str, *, as_json: str = "{}") -> str:
    """A jsonb {column: [before, after]} when the value changes, else {}."""
    old = as_json.format(f"c.{column}")
    new = as_json.format(new_value)
    return (
        f"CASE WHEN c.{column} IS DISTINCT FROM {new_value} "
        f"THEN jsonb_build_object('{column}', jsonb_build_array({old}, {new})) "
        "ELSE '{}'::jsonb END"
    )


# In update mode an empty value keeps what the component has; the geometry (always given)
# replaces it, and attributes are merged key by key. Each changed field is kept as
# [before, after]; a component the file does not change gets no history entry.
UPDATED_VALUES = {
    "category_id": "r.category_id",
    "status": "COALESCE(r.status, c.status)",
    "name": "COALESCE(r.name, c.name)",
    "address": "COALESCE(r.address, c.address)",
    "owner_department_id": "COALESCE(r.owner_id, c.owner_department_id)",
    "supervisor_department_id": "COALESCE(r.supervisor_id, c.supervisor_department_id)",
    "maintainer_department_id": "COALESCE(r.maintainer_id, c.maintainer_department_id)",
    "cell_id": "r.cell_id",
    "attributes": "c.attributes || r.attributes",
}
CHANGES = " || ".join(
    [
        *(_changed(column, value) for column, value in UPDATED_VALUES.items()),
        _changed("geom", "r.geom", as_json="ST_AsGeoJSON({}, 7)::jsonb"),
    ]
)
UPDATE_COMPONENTS = text(
    f"""
    WITH compared AS (
        SELECT c.id, {CHANGES} AS changes
        FROM component c JOIN component_resolved r ON r.existing_id = c.id
    ), logged AS (
        INSERT INTO component_change (component_id, action, changes, changed_by, import_id)
        SELECT id, 'updated', changes, :by, :import_id FROM compared WHERE changes <> '{{}}'
        RETURNING component_id
    )
    UPDATE component c
    SET {", ".join(f"{column} = {value}" for column, value in UPDATED_VALUES.items())},
        geom = r.geom, import_id = :import_id, updated_at = now()
    FROM component_resolved r
    WHERE r.existing_id = c.id AND c.id IN (SELECT component_id FROM logged)
    """
)
EXISTING_ROWS = text("SELECT count(*) FROM component_resolved WHERE existing_id IS NOT NULL")


def import_components(
    session: Session,
    table: ComponentTable,
    *,
    update: bool = False,
    by: int | None = None,
    progress: ProgressCallback | None = None,
    bulk_rows_min: int | None = None,
) -> ImportResult:
    """Validate and write every row of `table`; ImportRejected (nothing written) on any problem.
    From `bulk_rows_min` new rows (default BULK_ROWS_MIN) foreign keys are checked once.

    In update mode a code already in the database updates that component (history records
    each changed field); otherwise it is a problem."""
    notify = progress or _ignore_progress
    if len(table) == 0:
        raise InvalidInput(f"{table.source_name} holds no rows", field="file")
    session.flush()  # the SQL below must see rows added through the ORM in this transaction
    # A few statements over many rows: compiling each with JIT costs more than it saves.
    session.execute(text("SET LOCAL jit = off"))
    bad_codes = code_reasons(table.texts["code"])
    bad_geometries = {**geometry_reasons(table.geometries), **table.geometry_reasons}
    _stage(session, table, bad_codes=bad_codes, unusable=bad_geometries, notify=notify)
    problems = [
        _problem(row, table.texts["code"][row], reason)
        for reasons in (bad_codes, bad_geometries)
        for row, reason in reasons.items()
    ]
    problems += _database_problems(session, table, update=update, notify=notify)
    if problems:
        raise _rejection(problems, len(table))
    notify("writing components", 0, 1)
    result = _write(session, table, by=by, bulk_rows_min=bulk_rows_min or BULK_ROWS_MIN)
    notify("done", 1, 1)
    return result


def _ignore_progress(step: str, done: int, total: int) -> None:
    return None


def _rejection(problems: list[Problem], total: int) -> ImportRejected:
    problems.sort(key=lambda problem: problem["index"])
    bad_count = len({problem["index"] for problem in problems})
    return ImportRejected(
        f"{bad_count} of {total} rows have problems; nothing was written", problems=problems
    )


# From this many new components on, the foreign keys are checked once for the whole import
# instead of by a trigger per row (the triggers took 16 of 26 s for 100,000 rows).
BULK_ROWS_MIN = 20_000
WRITTEN_TABLES = ("component", "component_change")
FOREIGN_KEYS = text(
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = CAST(:table AS regclass) AND contype = 'f' ORDER BY conname"
)


@contextmanager
def foreign_keys_checked_once(
    session: Session, tables: Sequence[str], *, enabled: bool
) -> Iterator[None]:
    """Inside the block the tables' foreign keys are dropped; after it they are added again,
    which checks every row in one set-based query per key, all in the caller's transaction: a
    row that breaks one fails the import, and a failure rolls the constraints back with it.

    The price is a lock: the tables are not readable, nor the referenced tables writable, until
    the transaction ends (a census import is a rare, planned event)."""
    if not enabled:
        yield
        return
    dropped = {table: session.execute(FOREIGN_KEYS, {"table": table}).all() for table in tables}
    for table, keys in dropped.items():
        if keys:
            drops = ", ".join(f"DROP CONSTRAINT {name}" for name, _ in keys)
            session.execute(text(f"ALTER TABLE {table} {drops}"))
    yield
    for table, keys in dropped.items():
        if keys:
            adds = ", ".join(f"ADD CONSTRAINT {name} {definition}" for name, definition in keys)
            session.execute(text(f"ALTER TABLE {table} {adds}"))


def _write(
    session: Session, table: ComponentTable, *, by: int | None, bulk_rows_min: int
) -> ImportResult:
    """Record the import, insert the new components, update the existing ones."""
    import_id = session.scalar(
        INSERT_IMPORT,
        {
            "name": table.source_name,
            "format": table.source_format,
            "crs": table.source_crs,
            "rows": len(table),
            "by": by,
        },
    )
    existing = int(session.scalar(EXISTING_ROWS) or 0)
    params = {"import_id": import_id, "by": by}
    bulk = len(table) - existing >= bulk_rows_min
    with foreign_keys_checked_once(session, WRITTEN_TABLES, enabled=bulk):
        session.execute(INSERT_COMPONENTS, params)
    updated = _execute_counting(session, UPDATE_COMPONENTS, params) if existing else 0
    session.execute(text("DROP TABLE component_resolved"))
    session.execute(text("DROP TABLE component_staging"))
    assert import_id is not None
    return ImportResult(
        import_id=import_id,
        source_name=table.source_name,
        source_format=table.source_format,
        source_crs=table.source_crs,
        rows=len(table),
        created=len(table) - existing,
        updated=updated,
        unchanged=existing - updated,
    )


def _execute_counting(session: Session, statement: Any, params: dict[str, Any]) -> int:
    """Execute a data-changing statement; the number of rows it changed."""
    result: CursorResult[Any] = session.execute(statement, params)  # type: ignore[assignment]
    return result.rowcount
