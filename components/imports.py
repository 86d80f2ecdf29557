"""Importing components: every row checked, and nothing written unless all are good.

A file is read into a ComponentTable (components.import_files). Identifiers and geometries are
checked in Python over whole columns, and each geometry's cell is found by the grid's
in-process cell index (as bulk geolocation does: several times faster than a spatial join
in PostGIS for a million points). Everything else runs in PostGIS over a staged temporary table:
the rows are COPYed in, one statement resolves categories, departments, cells (by code) and
existing components by hash joins, one statement lists the rows with problems, and one
INSERT … SELECT writes the components with their 'imported' history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from sqlalchemy import CursorResult, text
from sqlalchemy.orm import Session

from citygrid.errors import InvalidInput
from components.codes import (
    VALID_CODE_PATTERN,
    category_problem,
    code_problem,
)
from components.import_files import TEXT_FIELDS, ComponentTable
from components.schemas import ComponentStatus, ImportResult
from grid import import_toolkit as toolkit
from grid.import_toolkit import Problem, ProgressCallback, problem
from grid.index import cell_index_for
from grid.revision import grid_revision

DEPARTMENT_FIELDS = ("owner", "supervisor", "maintainer")
POINTS_LINES_POLYGONS = toolkit.GeometryRules(
    accepted_type_ids=frozenset(
        int(kind)
        for kind in (
            shapely.GeometryType.POINT,
            shapely.GeometryType.LINESTRING,
            shapely.GeometryType.POLYGON,
            shapely.GeometryType.MULTIPOINT,
            shapely.GeometryType.MULTILINESTRING,
            shapely.GeometryType.MULTIPOLYGON,
        )
    ),
    accepted_names="points, lines and polygons",
    nan_reason="coordinates are NaN",
)
POINT_TYPE_ID = int(shapely.GeometryType.POINT)
STATUS_VALUES = tuple(status.value for status in ComponentStatus)
COPY_PROGRESS_ROWS = 100_000
JSONB_PAIRS_PER_CALL = 40  # jsonb_build_object takes at most 100 arguments


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
    reasons = toolkit.geometry_reasons(geometries, POINTS_LINES_POLYGONS)
    usable = np.ones(len(geometries), dtype=bool)
    usable[list(reasons)] = False
    lines_and_polygons = usable & (shapely.get_type_id(geometries) != POINT_TYPE_ID)
    return reasons | _validity_reasons(geometries, lines_and_polygons)


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
    ewkbs = toolkit.staged_ewkbs(geometries)
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
    toolkit.copy_rows(
        session,
        "COPY component_staging FROM STDIN",
        zip(*columns, strict=True),  # in table order
        total=len(table),
        progress=notify,
        step="staging rows",
        every=COPY_PROGRESS_ROWS,
    )
    session.execute(text("ANALYZE component_staging"))


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
        problem(row.idx, row.code, f"code {row.code} appears {row.n} times in the file")
        for row in session.execute(DUPLICATE_CODES)
    ]
    for row in session.execute(FLAGGED_ROWS, {"update": update}):
        problems += [problem(row.idx, row.code, reason) for reason in row_reasons(row, update)]
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
    notify = progress or toolkit.ignore_progress
    if len(table) == 0:
        raise InvalidInput(f"{table.source_name} holds no rows", field="file")
    session.flush()  # the SQL below must see rows added through the ORM in this transaction
    # A few statements over many rows: compiling each with JIT costs more than it saves.
    session.execute(text("SET LOCAL jit = off"))
    bad_codes = code_reasons(table.texts["code"])
    bad_geometries = {**geometry_reasons(table.geometries), **table.geometry_reasons}
    _stage(session, table, bad_codes=bad_codes, unusable=bad_geometries, notify=notify)
    problems = [
        problem(row, table.texts["code"][row], reason)
        for reasons in (bad_codes, bad_geometries)
        for row, reason in reasons.items()
    ]
    problems += _database_problems(session, table, update=update, notify=notify)
    if problems:
        raise toolkit.rejection(problems, total=len(table), unit="rows")
    notify("writing components", 0, 1)
    result = _write(session, table, by=by, bulk_rows_min=bulk_rows_min or BULK_ROWS_MIN)
    notify("done", 1, 1)
    return result


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
