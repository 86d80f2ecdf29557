"""Row counts and checksums per table, and a small demo city (with photos) worth checking.

A table's checksum is the md5 of its rows' text, sorted, over the columns asked for: compare a
table before and after a migration over the columns it had before, and added columns (with their
defaults) do not count as a change, while any changed, lost or doubled row does.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from shapely.geometry import box
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Role
from citygrid.demo import city as demo
from citygrid.demo import rules as demo_rules
from citygrid.demo.history import DemoActors, load_demo_history
from citygrid.settings import get_settings
from dispatch.assignments import service as assignments
from dispatch.queue import service as queue_service
from events import taxonomy
from events.categories import service as categories
from events.models import CasePhoto
from events.photos import service as photos
from grid import service as grid_service
from grid.generate import generate_grid
from grid.imports import ImportOptions, read_features
from tests.events.seed import add_user

SMALL_CITY_BOUNDS = (116.400, 39.895, 116.425, 39.915)  # west, south, east, north (WGS-84)
# Tables of the database's own, in public (not PostGIS's spatial_ref_sys), and their columns.
TABLE_COLUMNS = """
SELECT c.relname, array_agg(a.attname::text ORDER BY a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p')
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
GROUP BY c.relname
ORDER BY c.relname
"""


@dataclass(frozen=True)
class TableDigest:
    rows: int
    md5: str


def table_columns(connection: Connection) -> dict[str, tuple[str, ...]]:
    """Every user table in `public` with its columns in table order."""
    return {str(name): tuple(columns) for name, columns in connection.execute(text(TABLE_COLUMNS))}


def table_digests(
    connection: Connection, columns: Mapping[str, Sequence[str]]
) -> dict[str, TableDigest]:
    """Row count and checksum of each table over the given columns, in one statement."""
    if not columns:
        return {}
    quote = connection.dialect.identifier_preparer.quote
    selects = [
        f"SELECT '{table}' AS name, count(*) AS n,"
        f" md5(coalesce(string_agg(r, ',' ORDER BY r), '')) AS md5"
        f" FROM (SELECT ROW({', '.join(quote(c) for c in table_cols)})::text AS r"
        f" FROM {quote(table)}) AS t"
        for table, table_cols in sorted(columns.items())
    ]
    rows = connection.execute(text(" UNION ALL ".join(selects)))
    return {str(name): TableDigest(int(n), str(md5)) for name, n, md5 in rows}


def tiny_png(shade: int) -> bytes:
    image = Image.new("RGB", (8, 8), (shade, 100, 200))
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()


def load_small_city(session: Session, media_dir: Path, *, cases: int = 1_000) -> None:
    """Central Dongcheng with part of the demo history, photos on disk and components; committed.

    Cases falling outside the smaller grid are left out: a few hundred remain."""
    categories.load_taxonomy(session, taxonomy.read_taxonomy())
    load_small_grid(session)
    actors = add_demo_staff(session)
    demo_rules.load_demo_rules(session, now=datetime.now(UTC))
    demo.make_manager_supervise(session)
    load_demo_history(session, actors, cases=cases)
    assignments.backfill_assignments(
        session, default_calendar_code=get_settings().default_calendar_code
    )
    queue_service.reroute_waiting(session, None, now=datetime.now(UTC))
    add_photos(session, media_dir, count=3)
    add_components(session, count=20)
    session.commit()


def load_small_grid(session: Session) -> None:
    """The demo grid cut down to ~2 km × 2 km around Wangfujing and Beijing Railway Station."""
    district = read_features(demo.DEMO_DATA / "110101.geojson", crs="GCJ-02")[0].geometry
    assert district is not None
    generated = generate_grid(
        district.intersection(box(*SMALL_CITY_BOUNDS)),
        district_code=demo.DEMO_DISTRICT_CODE,
        district_name=demo.DEMO_DISTRICT_NAME,
        layout=demo.DEMO_LAYOUT,
    )
    options = ImportOptions(overlap_tolerance_m2=1.0, gap_tolerance_m2=1.0)
    grid_service.write_generated_grid(session, generated, options)


def add_demo_staff(session: Session) -> DemoActors:
    """The demo departments and a user per role (with a precomputed hash: argon2 is slow)."""
    for code, name, kind in demo.DEMO_DEPARTMENTS:
        session.add(Department(code=code, name=name, kind=kind))
    session.flush()
    first = session.scalars(select(Department).where(Department.code == demo.DEMO_DEPARTMENT_CODE))
    department = first.one()
    users = {
        role: add_user(
            session,
            role,
            username=role.value,
            department=department if role is Role.DEPARTMENT else None,
        )
        for role in Role
    }
    return DemoActors(
        inspector_id=users[Role.INSPECTOR].id,
        citizen_id=users[Role.CITIZEN].id,
        dispatcher_id=users[Role.DISPATCHER].id,
        department_user_id=users[Role.DEPARTMENT].id,
    )


def add_photos(session: Session, media_dir: Path, *, count: int) -> None:
    """`count` photos (original and public copy on disk) on the first cases."""
    case_ids = session.scalars(text("SELECT id FROM event_case ORDER BY id LIMIT :n"), {"n": count})
    for shade, case_id in enumerate(case_ids):
        checked = photos.checked_photo(tiny_png(shade * 40), label=f"photo {shade}")
        stored = photos.store(checked, media_dir)
        session.add(
            CasePhoto(
                case_id=case_id,
                storage_key=stored.storage_key,
                content_type=stored.content_type,
                size_bytes=stored.size_bytes,
                sha256=stored.sha256,
            )
        )
    session.flush()


ADD_COMPONENTS = """
WITH imported AS (
  INSERT INTO component_import (source_name, source_format, source_crs, rows)
  VALUES ('checksums.py', 'geojson', 'EPSG:4326', :n) RETURNING id
), kind AS (
  SELECT id FROM category WHERE kind = 'component' AND level = 'minor' ORDER BY code LIMIT 1
), added AS (
  INSERT INTO component (code, category_id, geom, cell_id, name, import_id)
  SELECT '1101010101' || lpad(cell.id::text, 6, '0'), kind.id, ST_PointOnSurface(cell.geom),
         cell.id, 'manhole ' || cell.code, imported.id
  FROM (SELECT id, code, geom FROM grid_cell ORDER BY id LIMIT :n) AS cell, kind, imported
  RETURNING id, import_id
)
INSERT INTO component_change (component_id, action, import_id)
SELECT id, 'imported', import_id FROM added
"""
LINK_CASES = """
UPDATE event_case SET component_id = component.id, component_distance_m = 3.5,
       component_match = 'matched'
FROM component WHERE component.cell_id = event_case.cell_id
"""


def add_components(session: Session, *, count: int) -> None:
    """Components on the first `count` cells, their import and history; cases there cite them."""
    session.execute(text(ADD_COMPONENTS), {"n": count})
    session.execute(text(LINK_CASES))
    session.flush()
