"""Importing components through the CLI and the upload route."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Role
from grid.geometry import wgs84_to_gcj02
from tests.components.import_support import (
    code,
    components,
    count,
    row,
    seed_block_and_departments,
    upload,
    write_csv,
    write_geojson,
)
from tests.grid.places import CELL_NW, CELL_SW, centre_of


@pytest.fixture
def block(session: Session) -> list[Department]:
    """The test block, and departments SZ-01 (water) and LD-01 (lighting)."""
    return seed_block_and_departments(session)


# --- CLI and HTTP -------------------------------------------------------------------------------


def test_the_cli_imports_and_prints_counts(
    run_cli: Callable[..., Result], session: Session, block: list[Department], tmp_path: Path
) -> None:
    lon, lat = centre_of(CELL_NW)
    path = write_csv(tmp_path / "c.csv", ["code", "lon", "lat"], [[code(1), lon, lat]])
    result = run_cli("components", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "imported 1 rows from c.csv (CSV, EPSG:4326)" in result.output
    assert "1 created" in result.output
    again = run_cli("components", "import", str(path), "--update")
    assert again.exit_code == 0, again.output
    assert "0 updated" in again.output
    assert "1 unchanged" in again.output


def test_the_cli_prints_the_problem_table_and_fails(
    run_cli: Callable[..., Result], session: Session, block: list[Department], tmp_path: Path
) -> None:
    lon, lat = centre_of(CELL_NW)
    lines = [[code(1), lon, lat], [code(2), 117.5, lat]]
    path = write_csv(tmp_path / "c.csv", ["code", "x", "y"], lines)
    result = run_cli("components", "import", str(path))
    assert result.exit_code == 1
    assert "1 of 2 rows have problems; nothing was written" in result.output
    assert "outside the grid" in result.output
    assert count(session, "component") == 0


def test_an_admin_uploads_a_csv_with_named_columns_and_crs(
    client: TestClient, session: Session, block: list[Department], tmp_path: Path
) -> None:
    gcj_lon, gcj_lat = wgs84_to_gcj02(np.array([centre_of(CELL_SW)]))[0]
    path = write_csv(tmp_path / "c.csv", ["code", "jd", "wd"], [[code(1), gcj_lon, gcj_lat]])
    form = {"crs": "GCJ-02", "lon_column": "jd", "lat_column": "wd"}
    response = upload(client, session, path, form)
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 1
    assert components(session)[code(1)].cell == CELL_SW.code
    created_by = session.scalar(text("SELECT created_by FROM component_import"))
    assert created_by is not None


def test_a_bad_upload_is_422_with_every_problem(
    client: TestClient, session: Session, block: list[Department], tmp_path: Path
) -> None:
    path = write_geojson(tmp_path / "c.geojson", [row(1, status="x"), row(2, owner="NOPE")])
    response = upload(client, session, path)
    assert response.status_code == 422, response.text
    assert [p["index"] for p in response.json()["problems"]] == [0, 1]
    assert count(session, "component") == 0


@pytest.mark.parametrize(
    ("file_name", "form", "field", "message"),
    [
        ("c.kml", {}, "file", "must end in .geojson"),
        ("c.geojson", {"crs": "EPSG:999999"}, "crs", "unknown coordinate system"),
        ("c.csv", {"lon_column": "jd"}, "lon_column", "no coordinate columns jd/lat"),
    ],
)
def test_bad_form_input_is_422_naming_the_field(
    client: TestClient,
    session: Session,
    block: list[Department],
    tmp_path: Path,
    file_name: str,
    form: dict[str, str],
    field: str,
    message: str,
) -> None:
    path = tmp_path / file_name
    if file_name.endswith(".csv"):
        write_csv(path, ["code", "lon", "lat"], [[code(1), 116.4, 39.9]])
    else:
        write_geojson(path, [row(1)])
    response = upload(client, session, path, form)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert message in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.DEPARTMENT, Role.INSPECTOR])
def test_only_an_admin_may_import(
    client: TestClient, session: Session, block: list[Department], tmp_path: Path, role: Role
) -> None:
    response = upload(client, session, write_geojson(tmp_path / "c.geojson", [row(1)]), role=role)
    assert response.status_code == 403, response.text
    assert count(session, "component") == 0
