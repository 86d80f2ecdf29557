"""Importing grid units: every feature checked, and nothing written unless all are good.

Generation and the demo call `import_units`; the CLI and the API call `read_features` then
`import_units`. Checks that need one feature at a time (codes, geometry type, NaN coordinates)
run in Python over the whole array; checks that relate units to each other or to the database
(validity, parents, containment, overlaps, gaps) run in PostGIS over a staged temporary table with
a GiST index, so a 100,000-cell import is a handful of set-based statements, not 100,000 trips.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.errors import ImportRejected, InvalidInput
from grid.codes import PARENT_LEVEL, GridLevel, code_problem, parent_code
from grid.import_toolkit import (
    GeometryRules,
    Problem,
    ProgressCallback,
    check_crs,
    copy_rows,
    field_text,
    file_crs,
    geometry_reasons,
    ignore_progress,
    layer_geometries,
    problem,
    read_layer,
    rejection,
    staged_ewkbs,
)
from grid.revision import record_grid_change

CELL_COLUMNS = ("area_class", "responsible_party")
MAX_TEXT_LENGTH = {"name": 200, "area_class": 32, "responsible_party": 200}
POLYGONS = GeometryRules(
    accepted_type_ids=frozenset(
        int(kind) for kind in (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
    ),
    accepted_names="Polygon and MultiPolygon",
    nan_reason="geometry has NaN coordinates",
)
STAGING_CHUNK_ROWS = 10_000


@dataclass(frozen=True)
class UnitFeature:
    """One unit read from a file or generated, already in WGS-84."""

    index: int  # position in the source (0-based), named in every problem
    code: str | None
    name: str | None
    geometry: shapely.Geometry | None  # None when the source geometry could not be read
    parent_code: str | None = None  # from --parent-field; None means derived from the code
    attributes: dict[str, Any] = field(default_factory=dict)  # cells: area_class, responsible_party


@dataclass(frozen=True)
class ImportOptions:
    repair: bool = False  # apply ST_MakeValid to invalid geometries instead of rejecting them
    overlap_tolerance_m2: float = 1.0
    gap_tolerance_m2: float = 1.0


@dataclass
class ImportReport:
    level: GridLevel
    written: int
    repaired: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Reading files


def read_features(
    path: Path,
    *,
    crs: str | None,
    code_field: str = "code",
    name_field: str = "name",
    parent_field: str | None = None,
    encoding: str | None = None,
) -> list[UnitFeature]:
    """Features of a GeoJSON, GeoPackage or Shapefile, converted to WGS-84; its text read as
    UTF-8 unless `encoding` names another (a file that is not is refused, see read_layer)."""
    check_crs(crs)
    layer = read_layer(path, encoding=encoding, code_field=code_field)
    columns = dict(layer.columns)  # the known fields are taken out; the rest are attributes
    _require_fields(
        list(columns), code_field=code_field, name_field=name_field, parent_field=parent_field
    )
    geometries = layer_geometries(layer, crs or file_crs(layer.declared_crs))
    count = len(layer.wkbs)
    codes = _optional_text_column(columns, code_field, count)
    names = _optional_text_column(columns, name_field, count)
    parents = _optional_text_column(columns, parent_field, count)
    attributes = _attribute_rows(columns, count)
    return [
        UnitFeature(index, code, name, geometry, parent, attrs)
        for index, (code, name, geometry, parent, attrs) in enumerate(
            zip(codes, names, geometries, parents, attributes, strict=True)
        )
    ]


DEFAULT_FIELDS = {"code_field": "code", "name_field": "name"}


def _require_fields(
    available: list[str], *, code_field: str, name_field: str, parent_field: str | None
) -> None:
    """Fields named explicitly must exist; the default code and name fields may be absent (a
    boundary read for generation has neither), and their features then lack codes or names."""
    named = {"code_field": code_field, "name_field": name_field, "parent_field": parent_field}
    for option, field_name in named.items():
        if (
            field_name is None
            or field_name in available
            or DEFAULT_FIELDS.get(option) == field_name
        ):
            continue
        raise InvalidInput(
            f"the file has no field {field_name!r} (fields: {', '.join(available) or 'none'})",
            field=option,
        )


def _optional_text_column(
    columns: dict[str, Any], field_name: str | None, count: int
) -> list[str | None]:
    """The field's values as text, taken out of `columns`; all None when there is no such field."""
    if field_name is None or field_name not in columns:
        return [None] * count
    return [field_text(value) for value in columns.pop(field_name).tolist()]


def _attribute_rows(columns: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The remaining fields of each feature, as JSON-safe values."""
    as_lists = {name: values.tolist() for name, values in columns.items()}
    return [
        {name: _json_safe(values[row]) for name, values in as_lists.items()} for row in range(count)
    ]


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


# ---------------------------------------------------------------------------------------------
# Checks of one feature at a time (pure)


def feature_problems(
    features: Sequence[UnitFeature], level: GridLevel, geometry_reasons: Sequence[str | None]
) -> list[Problem]:
    """Problems visible in the features themselves: codes, parents given, geometries, lengths."""
    problems: list[Problem] = []
    code_counts = Counter(feature.code for feature in features if feature.code is not None)
    for feature, geometry_reason in zip(features, geometry_reasons, strict=True):
        reasons = [*_code_reasons(feature, level, code_counts), *_length_reasons(feature)]
        if geometry_reason is not None:
            reasons.append(geometry_reason)
        problems.extend(problem(feature.index, feature.code, reason) for reason in reasons)
    return problems


def _code_reasons(feature: UnitFeature, level: GridLevel, counts: Counter[str]) -> list[str]:
    code = feature.code
    if code is None:
        return ["code is missing"]
    reasons = []
    structure = code_problem(code, level)
    if structure is not None:
        reasons.append(structure)
    if counts[code] > 1:
        reasons.append(f"code {code} appears {counts[code]} times in the file")
    if feature.parent_code is not None:
        reasons.extend(_given_parent_reasons(code, feature.parent_code, level))
    return reasons


def _given_parent_reasons(code: str, given_parent: str, level: GridLevel) -> list[str]:
    if PARENT_LEVEL[level] is None:
        return [f"a {level} has no parent, but parent {given_parent} is given"]
    if code_problem(code, level) is None and parent_code(code, level) != given_parent:
        return [f"code {code} does not start with its parent's code {given_parent}"]
    return []


def _length_reasons(feature: UnitFeature) -> list[str]:
    values = {"name": feature.name, **{c: feature.attributes.get(c) for c in CELL_COLUMNS}}
    return [
        f"{column} is longer than {MAX_TEXT_LENGTH[column]} characters"
        for column, value in values.items()
        if value is not None and len(str(value)) > MAX_TEXT_LENGTH[column]
    ]


def geometry_problems(geometries: npt.NDArray[np.object_]) -> list[str | None]:
    """Why each geometry cannot be staged (None when it can); validity is PostGIS's to judge."""
    reasons = geometry_reasons(geometries, POLYGONS)
    return [reasons.get(row) for row in range(len(geometries))]


def effective_parent_code(feature: UnitFeature, level: GridLevel) -> str | None:
    """The parent's code: the one given, else the code's prefix; None when neither is usable."""
    if PARENT_LEVEL[level] is None:
        return None
    if feature.parent_code is not None:
        return feature.parent_code
    if feature.code is None or code_problem(feature.code, level) is not None:
        return None
    return parent_code(feature.code, level)


# ---------------------------------------------------------------------------------------------
# Importing: stage, check in PostGIS, write

# No index on idx on purpose: the planner would AND a range scan for `a.idx < b.idx` into the
# overlap self-join, turning it quadratic; only the GiST index on geom is wanted.
CREATE_STAGING = """
    CREATE TEMP TABLE import_unit (
        idx integer NOT NULL,
        code text,
        name text,
        parent_code text,
        parent_id integer,
        attributes jsonb NOT NULL,
        geom geometry(Geometry, 4326)
    ) ON COMMIT DROP
"""
COPY_STAGING = "COPY import_unit (idx, code, name, parent_code, attributes, geom) FROM STDIN"
INDEX_STAGING = "CREATE INDEX ON import_unit USING gist (geom)"
# ST_IsValidReason alone (not ST_IsValid first) judges each geometry once and raises no NOTICEs.
INVALID_UNITS = text(
    "SELECT idx, code, reason FROM (SELECT idx, code, ST_IsValidReason(geom) AS reason "
    "FROM import_unit WHERE geom IS NOT NULL) AS judged WHERE reason <> 'Valid Geometry' "
    "ORDER BY idx"
)
REPAIR_UNITS = text(
    "UPDATE import_unit SET geom = ST_CollectionExtract(ST_MakeValid(geom), 3) "
    "WHERE idx = ANY(:indexes)"
)
EMPTY_AFTER_REPAIR = text(
    "SELECT idx FROM import_unit WHERE idx = ANY(:indexes) AND ST_IsEmpty(geom)"
)
DROP_GEOMETRIES = text("UPDATE import_unit SET geom = NULL WHERE idx = ANY(:indexes)")


def import_units(
    session: Session,
    level: GridLevel,
    features: Sequence[UnitFeature],
    options: ImportOptions,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Validate and write units of one level; ImportRejected (nothing written) on any problem."""
    notify = progress or ignore_progress
    session.flush()  # the SQL below must see units added through the ORM in this transaction
    unusable = geometry_problems(np.array([f.geometry for f in features], dtype=object))
    problems = feature_problems(features, level, unusable)
    _stage(session, level, features, unusable, notify)
    validity_problems, repaired = _validity_problems(session, repair=options.repair)
    session.execute(text(INDEX_STAGING))
    session.execute(text("ANALYZE import_unit"))
    problems += validity_problems + _database_problems(session, level, options, notify)
    if problems:
        raise _rejection(problems, features)
    notify("writing units", len(DATABASE_CHECKS), len(DATABASE_CHECKS) + 1)
    _write_units(session, level)
    warnings = _gap_warnings(session, level, options.gap_tolerance_m2)
    record_grid_change(session)
    session.flush()
    notify("done", 1, 1)
    return ImportReport(level=level, written=len(features), repaired=repaired, warnings=warnings)


def _rejection(problems: list[Problem], features: Sequence[UnitFeature]) -> ImportRejected:
    no_codes = all(feature.code is None for feature in features)
    hint = " (no feature has a code: is the code field right?)" if no_codes else ""
    return rejection(problems, total=len(features), unit="features", hint=hint)


def _stage(
    session: Session,
    level: GridLevel,
    features: Sequence[UnitFeature],
    geometry_reasons: Sequence[str | None],
    notify: ProgressCallback,
) -> None:
    """Copy the features into a fresh temporary table; unusable geometries are staged as NULL."""
    session.execute(text("DROP TABLE IF EXISTS pg_temp.import_unit"))
    session.execute(text(CREATE_STAGING))
    usable = [
        f.geometry if r is None else None for f, r in zip(features, geometry_reasons, strict=True)
    ]
    ewkbs = staged_ewkbs(np.array(usable, dtype=object))
    rows = (
        (f.index, f.code, f.name, effective_parent_code(f, level), _json(f.attributes), ewkb)
        for f, ewkb in zip(features, ewkbs, strict=True)
    )
    copy_rows(
        session,
        COPY_STAGING,
        rows,
        total=len(features),
        progress=notify,
        step="staging features",
        every=STAGING_CHUNK_ROWS,
    )


def _json(attributes: dict[str, Any]) -> str:
    return json.dumps(attributes, ensure_ascii=False, default=str)


def _validity_problems(session: Session, *, repair: bool) -> tuple[list[Problem], int]:
    """Invalid geometries as problems (or repaired), and how many were repaired."""
    invalid = session.execute(INVALID_UNITS).all()
    if not invalid:
        return [], 0
    indexes = [row.idx for row in invalid]
    if repair:
        session.execute(REPAIR_UNITS, {"indexes": indexes})
        unrepairable = set(session.scalars(EMPTY_AFTER_REPAIR, {"indexes": indexes}))
    else:
        unrepairable = set(indexes)
    # Later checks run GEOS overlays, which may fail on invalid input: leave those geometries out.
    session.execute(DROP_GEOMETRIES, {"indexes": sorted(unrepairable)})
    suffix = "; repairing it leaves no polygon" if repair else " (--repair may fix it)"
    problems = [
        problem(row.idx, row.code, f"invalid geometry: {row.reason}{suffix}")
        for row in invalid
        if row.idx in unrepairable
    ]
    return problems, len(invalid) - len(unrepairable)


def _unit_table(level: GridLevel) -> str:
    return "grid_cell" if level is GridLevel.CELL else "grid_region"


def _same_level(level: GridLevel, alias: str) -> str:
    """A condition keeping rows of `level` in the unit table; every cell is of level cell."""
    return "TRUE" if level is GridLevel.CELL else f"{alias}.level = :level"


def _existing_code_problems(
    session: Session, level: GridLevel, options: ImportOptions
) -> list[Problem]:
    sql = f"""
        SELECT s.idx, s.code FROM import_unit s JOIN {_unit_table(level)} t ON t.code = s.code
        ORDER BY s.idx
    """
    return [
        problem(row.idx, row.code, f"code {row.code} already exists in the database")
        for row in session.execute(text(sql))
    ]


RESOLVE_PARENTS = text(
    "UPDATE import_unit s SET parent_id = p.id FROM grid_region p "
    "WHERE p.code = s.parent_code AND p.level = :parent_level"
)
MISSING_PARENTS = text(
    "SELECT idx, code, parent_code FROM import_unit "
    "WHERE parent_code IS NOT NULL AND parent_id IS NULL ORDER BY idx"
)


def _parent_problems(session: Session, level: GridLevel, options: ImportOptions) -> list[Problem]:
    """Link each unit to its parent region; units whose parent is not in the database are bad."""
    parent_level = PARENT_LEVEL[level]
    if parent_level is None:
        return []
    session.execute(RESOLVE_PARENTS, {"parent_level": parent_level.value})
    return [
        problem(row.idx, row.code, f"parent {parent_level} {row.parent_code} does not exist")
        for row in session.execute(MISSING_PARENTS)
    ]


# ST_CoveredBy (cheap, prepared) spares the overlay for the many units well inside their parent.
OUTSIDE_PARENT = text(
    """
    SELECT idx, code, parent_code, outside_m2 FROM (
        SELECT s.idx, s.code, s.parent_code,
               ST_Area(ST_Difference(s.geom, p.geom)::geography) AS outside_m2
        FROM import_unit s JOIN grid_region p ON p.id = s.parent_id
        WHERE s.geom IS NOT NULL AND NOT ST_CoveredBy(s.geom, p.geom)
    ) AS unit WHERE outside_m2 > :tolerance ORDER BY idx
    """
)


def _outside_parent_problems(
    session: Session, level: GridLevel, options: ImportOptions
) -> list[Problem]:
    parent_level = PARENT_LEVEL[level]
    rows = session.execute(OUTSIDE_PARENT, {"tolerance": options.overlap_tolerance_m2})
    return [
        problem(
            row.idx,
            row.code,
            f"{row.outside_m2:.1f} m² lies outside its {parent_level} {row.parent_code}",
        )
        for row in rows
    ]


# '2********': the interiors share an area. Neighbours that only touch are ruled out by the
# relate matrix without computing an intersection, which matters when 100,000 cells tile a city.
OVERLAPS_WITHIN_FILE = text(
    """
    SELECT a_idx, a_code, b_idx, b_code, overlap_m2 FROM (
        SELECT a.idx AS a_idx, a.code AS a_code, b.idx AS b_idx, b.code AS b_code,
               ST_Area(ST_Intersection(a.geom, b.geom)::geography) AS overlap_m2
        FROM import_unit a JOIN import_unit b
          ON a.idx < b.idx AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')
    ) AS pair WHERE overlap_m2 > :tolerance ORDER BY a_idx, b_idx
    """
)


def _overlaps_within_file(
    session: Session, level: GridLevel, options: ImportOptions
) -> list[Problem]:
    """Both units of each overlapping pair are bad; each problem names the other one."""
    problems = []
    for row in session.execute(OVERLAPS_WITHIN_FILE, {"tolerance": options.overlap_tolerance_m2}):
        overlap = f"{row.overlap_m2:.1f} m²"
        problems.append(
            problem(
                row.a_idx,
                row.a_code,
                f"overlaps {row.b_code} (feature {row.b_idx}) in this file by {overlap}",
            )
        )
        problems.append(
            problem(
                row.b_idx,
                row.b_code,
                f"overlaps {row.a_code} (feature {row.a_idx}) in this file by {overlap}",
            )
        )
    return problems


def _overlaps_with_database(
    session: Session, level: GridLevel, options: ImportOptions
) -> list[Problem]:
    sql = f"""
        SELECT idx, code, other_code, overlap_m2 FROM (
            SELECT s.idx, s.code, t.code AS other_code,
                   ST_Area(ST_Intersection(s.geom, t.geom)::geography) AS overlap_m2
            FROM import_unit s JOIN {_unit_table(level)} t
              ON s.geom && t.geom AND ST_Relate(s.geom, t.geom, '2********')
            WHERE {_same_level(level, "t")}
        ) AS pair WHERE overlap_m2 > :tolerance ORDER BY idx, other_code
    """
    params = {"tolerance": options.overlap_tolerance_m2, "level": level.value}
    return [
        problem(
            row.idx,
            row.code,
            f"overlaps existing {level} {row.other_code} by {row.overlap_m2:.1f} m²",
        )
        for row in session.execute(text(sql), params)
    ]


DatabaseCheck = Callable[[Session, GridLevel, ImportOptions], list[Problem]]
DATABASE_CHECKS: tuple[tuple[str, DatabaseCheck], ...] = (
    ("checking codes against the database", _existing_code_problems),
    ("checking parents", _parent_problems),
    ("checking units lie inside their parents", _outside_parent_problems),
    ("checking overlaps within the file", _overlaps_within_file),
    ("checking overlaps with the database", _overlaps_with_database),
)


def _database_problems(
    session: Session, level: GridLevel, options: ImportOptions, notify: ProgressCallback
) -> list[Problem]:
    problems: list[Problem] = []
    for step, (description, check) in enumerate(DATABASE_CHECKS):
        notify(description, step, len(DATABASE_CHECKS) + 1)
        problems += check(session, level, options)
    return problems


INSERT_REGIONS = text(
    """
    INSERT INTO grid_region (level, code, name, parent_id, geom, area_m2)
    SELECT :level, code, COALESCE(name, code), parent_id, ST_Multi(geom), ST_Area(geom::geography)
    FROM import_unit ORDER BY idx
    """
)
# Cells keep their two known attributes in columns and every other field in JSONB.
INSERT_CELLS = text(
    """
    INSERT INTO grid_cell (code, name, community_id, geom, area_m2, area_class, responsible_party,
                           attributes)
    SELECT code, COALESCE(name, code), parent_id, ST_Multi(geom), ST_Area(geom::geography),
           attributes ->> 'area_class', attributes ->> 'responsible_party',
           attributes - 'area_class' - 'responsible_party'
    FROM import_unit ORDER BY idx
    """
)


def _write_units(session: Session, level: GridLevel) -> None:
    if level is GridLevel.CELL:
        session.execute(INSERT_CELLS)
    else:
        session.execute(INSERT_REGIONS, {"level": level.value})


def _gap_warnings(session: Session, level: GridLevel, tolerance_m2: float) -> list[dict[str, Any]]:
    """Parts of each parent that received units and that none of its units (old or new) cover."""
    parent_level = PARENT_LEVEL[level]
    if parent_level is None:
        return []
    rows = session.execute(_gaps_sql(level), {"tolerance": tolerance_m2})
    return [
        {
            "parent_level": parent_level.value,
            "parent_code": row.parent_code,
            "area_m2": round(row.area_m2, 1),
            "lon": round(row.lon, 7),
            "lat": round(row.lat, 7),
            "message": f"gap of {row.area_m2:.1f} m² in {parent_level} {row.parent_code} "
            f"near {row.lon:.6f}, {row.lat:.6f}",
        }
        for row in rows
    ]


def _gaps_sql(level: GridLevel) -> Any:
    parent_column = "community_id" if level is GridLevel.CELL else "parent_id"
    return text(
        f"""
        WITH covered AS (
            SELECT child.{parent_column} AS parent_id, ST_Union(child.geom) AS geom
            FROM {_unit_table(level)} child
            WHERE child.{parent_column} IN (SELECT parent_id FROM import_unit)
            GROUP BY child.{parent_column}
        ), gap AS (
            SELECT parent.code AS parent_code,
                   (ST_Dump(ST_Difference(parent.geom, covered.geom))).geom AS geom
            FROM covered JOIN grid_region parent ON parent.id = covered.parent_id
        ), measured AS (
            SELECT parent_code, ST_Area(geom::geography) AS area_m2, ST_PointOnSurface(geom) AS spot
            FROM gap
        )
        SELECT parent_code, area_m2, ST_X(spot) AS lon, ST_Y(spot) AS lat FROM measured
        WHERE area_m2 > :tolerance ORDER BY parent_code, area_m2 DESC
        """
    )
