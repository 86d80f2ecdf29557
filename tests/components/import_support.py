"""Component files for import tests, written in every format, and what an import left.

Components lie on the named test block of `places` (four 0.001° cells around 116.400 E,
39.900 N); their categories come from the shipped taxonomy (0101 上水井盖, 0102 污水井盖).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Role
from citygrid.errors import ImportRejected
from components.import_files import ComponentTable, read_components
from components.imports import import_components
from tests.conftest import token_for
from tests.events.seed import add_department, add_user
from tests.grid.places import CELL_NW, Place, centre_of, seed_block

Row = dict[str, Any]


def code(sequence: int, category: str = "0101") -> str:
    return f"110101{category}{sequence:06d}"


def at(cell: Place) -> shapely.Geometry:
    return shapely.Point(*centre_of(cell))


def row(sequence: int, where: shapely.Geometry | None = None, **fields: Any) -> Row:
    """A component row: code and category 0101 unless given, at the NW cell's centre unless
    `where` or a `geometry` field says otherwise."""
    return {
        "code": code(sequence),
        "category": "0101",
        "geometry": at(CELL_NW) if where is None else where,
        **fields,
    }


def write_geojson(path: Path, rows: list[Row]) -> Path:
    features = []
    for values in rows:
        properties = {key: value for key, value in values.items() if key != "geometry"}
        geometry = values["geometry"]
        if isinstance(geometry, shapely.Geometry):
            geometry = json.loads(shapely.to_geojson(geometry))
        features.append({"type": "Feature", "properties": properties, "geometry": geometry})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def write_with_ogr(path: Path, rows: list[Row], driver: str, geometry_type: str) -> Path:
    names = [key for key in rows[0] if key != "geometry"]
    pyogrio.raw.write(
        path,
        geometry=np.array([shapely.to_wkb(r["geometry"]) for r in rows], dtype=object),
        field_data=[np.array([r[name] for r in rows], dtype=object) for name in names],
        fields=names,
        geometry_type=geometry_type,
        crs="EPSG:4326",
        driver=driver,
    )
    return path


def write_csv(path: Path, header: list[str], lines: list[list[Any]]) -> Path:
    rows = [",".join(header), *(",".join(str(value) for value in line) for line in lines)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def import_file(session: Session, path: Path, *, update: bool = False, **options: Any) -> Any:
    table: ComponentTable = read_components(path, **{"crs": None, **options})
    return import_components(session, table, update=update)


def rejection(session: Session, path: Path, **options: Any) -> list[dict[str, Any]]:
    with pytest.raises(ImportRejected, match="nothing was written") as caught:
        import_file(session, path, **options)
    assert count(session, "component") == 0
    return caught.value.problems


def count(session: Session, table: str) -> int:
    return int(session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def components(session: Session) -> dict[str, Any]:
    """Every component by code, with its cell and departments by code."""
    rows = session.execute(
        text(
            """
            SELECT c.code, k.code AS category, c.status, c.name, c.address, c.attributes,
                   g.code AS cell, o.code AS owner, s.code AS supervisor, m.code AS maintainer,
                   GeometryType(c.geom) AS kind, ST_X(ST_PointOnSurface(c.geom)) AS lon,
                   ST_Y(ST_PointOnSurface(c.geom)) AS lat, c.import_id
            FROM component c JOIN category k ON k.id = c.category_id
            LEFT JOIN grid_cell g ON g.id = c.cell_id
            LEFT JOIN department o ON o.id = c.owner_department_id
            LEFT JOIN department s ON s.id = c.supervisor_department_id
            LEFT JOIN department m ON m.id = c.maintainer_department_id
            """
        )
    )
    return {r.code: r for r in rows}


def seed_block_and_departments(session: Session) -> list[Department]:
    """The test block, and departments SZ-01 (water) and LD-01 (lighting)."""
    seed_block(session)
    return [
        add_department(session, code="SZ-01", kind="water"),
        add_department(session, code="LD-01", kind="lighting"),
    ]


def headers_for(session: Session, role: Role, department: Department | None = None) -> Any:
    user = add_user(session, role, department=department)
    token = token_for(role, user_id=user.id, department_id=user.department_id)
    return {"Authorization": f"Bearer {token}"}


def upload(
    client: TestClient,
    session: Session,
    path: Path,
    form: dict[str, str] | None = None,
    *,
    role: Role = Role.ADMIN,
) -> Any:
    user = add_user(session, role)
    headers = {"Authorization": f"Bearer {token_for(role, user_id=user.id)}"}
    with path.open("rb") as content:
        return client.post(
            "/api/components/imports",
            data=form or {},
            files={"file": (path.name, content)},
            headers=headers,
        )
