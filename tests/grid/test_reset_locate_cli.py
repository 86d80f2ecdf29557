"""`citygrid grid reset` (empty a district's grid for a re-import) and `citygrid grid locate`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.roles import Role
from grid.geometry import wgs84_to_gcj02
from grid.revision import grid_revision
from tests.components.import_support import (
    import_file,
    row,
    seed_block_and_departments,
    write_geojson,
)
from tests.events.seed import add_case, add_category
from tests.grid.places import CELL_NW, CELL_SE, DISTRICT, centre_of, east_of_block, seed_block
from tests.grid.test_import import import_cells, import_parents

Auth = Callable[[Role], dict[str, str]]
CELLS_AND_REGIONS = "SELECT (SELECT count(*) FROM grid_cell) + (SELECT count(*) FROM grid_region)"


def units(session: Session) -> int:
    return int(session.scalar(text(CELLS_AND_REGIONS)) or 0)


def flat(result: Result) -> str:
    return " ".join(result.output.split())


# --- reset ----------------------------------------------------------------------------------------


def test_reset_removes_the_district_clears_component_links_and_allows_a_reimport(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    seed_block_and_departments(session)
    import_file(session, write_geojson(tmp_path / "lamps.geojson", [row(1)]))
    revision = grid_revision(session)
    result = run_cli("grid", "reset", "--district", DISTRICT.code, "--yes")
    assert result.exit_code == 0, result.output
    said = flat(result)
    assert f"district {DISTRICT.code} {DISTRICT.name}: removes 1 district, 1 street," in said
    assert "1 community, 4 cells; clears 1 component cell links" in said
    assert "removed 1 district, 1 street, 1 community, 4 cells; cleared 1 component" in said
    assert units(session) == 0
    assert session.scalar(text("SELECT count(*) FROM component WHERE cell_id IS NULL")) == 1
    assert grid_revision(session) != revision  # the cell index and map weights are rebuilt
    import_parents(session)  # the same codes import again
    import_cells(session, (CELL_NW,))
    assert units(session) == 4


def test_reset_asks_first_and_removes_nothing_when_refused(
    run_cli: Callable[..., Result], session: Session
) -> None:
    seed_block(session)
    declined = run_cli("grid", "reset", "--district", DISTRICT.code, input_text="n\n")
    assert declined.exit_code == 1
    assert "remove them?" in declined.output and "nothing was removed" in declined.output
    assert units(session) == 7
    accepted = run_cli("grid", "reset", "--district", DISTRICT.code, input_text="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert units(session) == 0


def test_reset_is_refused_while_cases_lie_in_the_district(
    run_cli: Callable[..., Result], session: Session
) -> None:
    case = add_case(session, category=add_category(session), place=CELL_SE)
    result = run_cli("grid", "reset", "--district", DISTRICT.code, "--yes")
    assert result.exit_code == 1
    said = flat(result)
    assert f"1 cases lie in the district's cells (e.g. {case.number})" in said
    assert "case history is append-only" in said and "not even with --force" in said
    assert "nothing was removed" in said
    assert units(session) == 7
    assert session.scalar(text("SELECT count(*) FROM case_transition")) == 1


def test_reset_of_an_unknown_district_says_so(
    run_cli: Callable[..., Result], session: Session
) -> None:
    result = run_cli("grid", "reset", "--district", "999999", "--yes")
    assert result.exit_code == 1
    assert "no district with code 999999" in result.output


# --- locate ---------------------------------------------------------------------------------------


def test_locate_prints_the_cell_and_its_units(
    run_cli: Callable[..., Result], session: Session
) -> None:
    seed_block(session)
    result = run_cli("grid", "locate", *map(str, centre_of(CELL_SE)))
    assert result.exit_code == 0, result.output
    assert CELL_SE.code in result.output and CELL_SE.name in result.output
    assert DISTRICT.code in result.output and "inside" in result.output


def test_locate_json_is_the_api_answer_in_any_crs(
    run_cli: Callable[..., Result], session: Session, client: TestClient, auth: Auth
) -> None:
    seed_block(session)
    gcj_lon, gcj_lat = wgs84_to_gcj02(np.array([centre_of(CELL_NW)]))[0]
    point = {"lon": str(gcj_lon), "lat": str(gcj_lat), "crs": "GCJ-02"}
    result = run_cli("grid", "locate", point["lon"], point["lat"], "--crs", "GCJ-02", "--json")
    assert result.exit_code == 0, result.output
    api = client.get("/api/grid/locate", params=point, headers=auth(Role.INSPECTOR))
    assert api.status_code == 200, api.text
    assert json.loads(result.output) == api.json()
    assert api.json()["cell"]["code"] == CELL_NW.code


def test_locate_outside_the_grid_fails_as_the_api_does(
    run_cli: Callable[..., Result], session: Session, client: TestClient, auth: Auth
) -> None:
    seed_block(session)
    lon, lat = east_of_block(500.0)
    result = run_cli("grid", "locate", str(lon), str(lat))
    assert result.exit_code == 1
    api = client.get(
        "/api/grid/locate", params={"lon": lon, "lat": lat}, headers=auth(Role.INSPECTOR)
    )
    assert api.status_code == 422
    assert api.json()["detail"] in flat(result)
    bad = run_cli("grid", "locate", "116.4", "39.9", "--crs", "EPSG:999999")
    assert bad.exit_code == 1 and "unknown coordinate system" in bad.output
