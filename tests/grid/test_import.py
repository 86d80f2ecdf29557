"""Importing grid units from files: the CLI, the API, every rejection reason, all or nothing.

The units are the named test grid of `places`: a 0.002° block around (116.400 E, 39.900 N) is the
district, the street and the community, and four 0.001° cells tile it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.roles import Role
from citygrid.errors import ImportRejected
from grid.codes import GridLevel
from grid.geometry import gcj02_to_bd09, wgs84_to_gcj02
from grid.imports import ImportOptions, UnitFeature, import_units
from tests.citygrid.refusals import refusal_text, refused_field
from tests.grid import places
from tests.grid.places import (
    CELL_NE,
    CELL_NW,
    CELL_SE,
    CELL_SW,
    CELLS_IN_CODE_ORDER,
    COMMUNITY,
    DISTRICT,
    STREET,
    Place,
)

Auth = Callable[[Role], dict[str, str]]
OPTIONS = ImportOptions()
BLOCK = shapely.from_wkt(places.block_wkt())
GEOD = Geod(ellps="WGS84")
# The published fixture pair: one point in WGS-84 and in GCJ-02.
WGS_POINT = (116.377817, 39.911954)
GCJ_POINT = (116.38404722455657, 39.91334545536069)
# A bow-tie over the SW cell: its edges cross at the cell's centre, so it is invalid, and
# ST_MakeValid turns it into two triangles of a quarter cell each.
BOW_TIE = shapely.Polygon(
    [(116.3990, 39.8990), (116.4000, 39.9000), (116.4000, 39.8990), (116.3990, 39.9000)]
)


# --- building files -----------------------------------------------------------------------------


def cell_geometry(cell: Place) -> shapely.Geometry:
    return shapely.from_wkt(places.cell_wkt(cell))


def feature(
    code: str | None, geometry: Any, name: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A GeoJSON Feature; `geometry` is a shapely geometry, a GeoJSON dict, or None."""
    if isinstance(geometry, shapely.Geometry):
        geometry = json.loads(shapely.to_geojson(geometry))
    properties = {"code": code, "name": name or code, **extra}
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def cell_feature(cell: Place, **extra: Any) -> dict[str, Any]:
    return feature(cell.code, cell_geometry(cell), cell.name, **extra)


def write_geojson(tmp_path: Path, features: list[dict[str, Any]], name: str = "units") -> Path:
    path = tmp_path / f"{name}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def write_with_ogr(path: Path, cells: tuple[Place, ...], driver: str) -> Path:
    """The cells as a GeoPackage or Shapefile layer with code and name fields."""
    pyogrio.raw.write(
        path,
        geometry=np.array([shapely.to_wkb(cell_geometry(c)) for c in cells], dtype=object),
        field_data=[np.array([c.code for c in cells]), np.array([c.name for c in cells])],
        fields=["code", "name"],
        geometry_type="Polygon",
        crs="EPSG:4326",
        driver=driver,
    )
    return path


def zip_shapefile(tmp_path: Path, cells: tuple[Place, ...]) -> Path:
    shapefile = write_with_ogr(tmp_path / "cells.shp", cells, "ESRI Shapefile")
    archive_path = tmp_path / "cells.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        for part in tmp_path.glob(f"{shapefile.stem}.*"):
            archive.write(part, part.name)
    return archive_path


# --- seeding and reading the database -----------------------------------------------------------


def import_parents(session: Session) -> None:
    """District, street and community, each the whole block, through the importer itself."""
    for level, place in (
        (GridLevel.DISTRICT, DISTRICT),
        (GridLevel.STREET, STREET),
        (GridLevel.COMMUNITY, COMMUNITY),
    ):
        import_units(session, level, [UnitFeature(0, place.code, place.name, BLOCK)], OPTIONS)


def import_cells(session: Session, cells: tuple[Place, ...]) -> None:
    features = [UnitFeature(i, c.code, c.name, cell_geometry(c)) for i, c in enumerate(cells)]
    import_units(session, GridLevel.CELL, features, OPTIONS)


def count_units(session: Session) -> tuple[int, int]:
    regions = session.scalar(text("SELECT count(*) FROM grid_region"))
    cells = session.scalar(text("SELECT count(*) FROM grid_cell"))
    return int(regions or 0), int(cells or 0)


def post_import(
    client: TestClient,
    auth: Auth,
    path: Path,
    form: dict[str, str] | None = None,
    *,
    role: Role = Role.ADMIN,
) -> Any:
    """POST a file to /api/grid/imports (level cell unless given) and return the response."""
    fields = {"level": "cell", **(form or {})}
    with path.open("rb") as upload:
        return client.post(
            "/api/grid/imports",
            data=fields,
            files={"file": (path.name, upload)},
            headers=auth(role),
        )


def rejected_problems(
    client: TestClient, auth: Auth, path: Path, form: dict[str, str] | None = None
) -> list[Any]:
    response = post_import(client, auth, path, form)
    assert response.status_code == 422, response.text
    assert "nothing was written" in response.json()["detail"]
    problems: list[Any] = response.json()["problems"]
    return problems


def shifted_west(cell: Place, overlap_m2: float) -> shapely.Geometry:
    """The cell moved west so that it overlaps its western neighbour by about `overlap_m2`."""
    west, south, _, north = cell_geometry(cell).bounds
    _, _, height_m = GEOD.inv(west, south, west, north)
    east_lon, _, _ = GEOD.fwd(west, (south + north) / 2, 90.0, overlap_m2 / height_m)
    return shapely.affinity.translate(cell_geometry(cell), xoff=-(east_lon - west))


# --- happy paths --------------------------------------------------------------------------------


def test_cli_imports_every_level_from_geojson(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    for level, place in (("district", DISTRICT), ("street", STREET), ("community", COMMUNITY)):
        path = write_geojson(tmp_path, [feature(place.code, BLOCK, place.name)], level)
        result = run_cli("grid", "import", str(path), "--level", level)
        assert result.exit_code == 0, result.output
        assert f"imported 1 {level} units" in result.output
    cells = [
        cell_feature(c, area_class="A", responsible_party="东华门街道办", road="金鱼胡同")
        for c in CELLS_IN_CODE_ORDER
    ]
    result = run_cli("grid", "import", str(write_geojson(tmp_path, cells)), "--level", "cell")
    assert result.exit_code == 0, result.output
    assert "imported 4 cell units from units.geojson" in result.output
    row = session.execute(
        text(
            "SELECT c.name, c.area_m2, c.area_class, c.responsible_party, c.attributes, m.code, "
            "GeometryType(c.geom) AS type FROM grid_cell c "
            "JOIN grid_region m ON m.id = c.community_id WHERE c.code = :code"
        ),
        {"code": CELL_NW.code},
    ).one()
    assert (row.name, row.code, row.type) == (CELL_NW.name, COMMUNITY.code, "MULTIPOLYGON")
    assert row.area_m2 == pytest.approx(111.0 * 85.4, rel=0.01)  # 0.001° × 0.001° at 39.9° N
    assert (row.area_class, row.responsible_party) == ("A", "东华门街道办")
    assert row.attributes == {"road": "金鱼胡同"}


def test_cli_imports_a_geopackage(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    path = write_with_ogr(tmp_path / "cells.gpkg", CELLS_IN_CODE_ORDER, "GPKG")
    result = run_cli("grid", "import", str(path), "--level", "cell")
    assert result.exit_code == 0, result.output
    assert count_units(session) == (3, 4)


def test_api_imports_a_zipped_shapefile(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    response = post_import(client, auth, zip_shapefile(tmp_path, CELLS_IN_CODE_ORDER))
    assert response.status_code == 201, response.text
    assert response.json() == {"level": "cell", "written": 4, "repaired": 0, "warnings": []}
    names = session.scalars(text("SELECT name FROM grid_cell ORDER BY code")).all()
    assert names == [cell.name for cell in CELLS_IN_CODE_ORDER]


def test_api_imports_geojson_with_a_parent_field(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    cells = [cell_feature(c, community=COMMUNITY.code) for c in CELLS_IN_CODE_ORDER]
    response = post_import(
        client, auth, write_geojson(tmp_path, cells), {"parent_field": "community"}
    )
    assert response.status_code == 201, response.text
    assert count_units(session) == (3, 4)


def test_progress_is_reported(session: Session) -> None:
    import_parents(session)
    steps: list[tuple[str, int, int]] = []
    features = [UnitFeature(0, CELL_NW.code, CELL_NW.name, cell_geometry(CELL_NW))]
    import_units(session, GridLevel.CELL, features, OPTIONS, lambda *step: steps.append(step))
    assert ("staging features", 1, 1) in steps
    assert any(step[0] == "checking overlaps within the file" for step in steps)


# --- every rejection reason ---------------------------------------------------------------------

NULL_ISLAND = shapely.box(0.0, 0.0, 0.001, 0.001)
REJECTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("unreadable geometry", feature(CELL_NW.code, None), "geometry is missing or unreadable"),
    ("invalid geometry", feature(CELL_NW.code, BOW_TIE), "invalid geometry: Self-intersection"),
    (
        "not a polygon",
        feature(CELL_NW.code, shapely.Point(116.3995, 39.9005)),
        "geometry is a Point; only Polygon and MultiPolygon are accepted",
    ),
    (
        "empty geometry",
        feature(CELL_NW.code, {"type": "Polygon", "coordinates": []}),
        "geometry is empty",
    ),
    (
        "NaN coordinates",
        feature(
            CELL_NW.code,
            {
                "type": "Polygon",
                "coordinates": [
                    [[116.399, 39.9], [116.4, float("nan")], [116.4, 39.901], [116.399, 39.9]]
                ],
            },
        ),
        "geometry has NaN coordinates",
    ),
    ("missing code", feature(None, cell_geometry(CELL_NW)), "code is missing"),
    (
        "code of the wrong length",
        feature("11010100100101", cell_geometry(CELL_NW)),
        "code '11010100100101' must be 15 digits for a cell",
    ),
    (
        "sequence 000",
        feature("110101001001000", cell_geometry(CELL_NW)),
        "code '110101001001000': the cell sequence (last 3 digits) must not be 000",
    ),
    (
        "parent does not exist",
        feature("110101001002001", cell_geometry(CELL_NW)),
        "parent community 110101001002 does not exist",
    ),
    (
        "outside its parent",
        feature(CELL_NW.code, shapely.box(116.3985, 39.9, 116.3995, 39.901)),
        "lies outside its community 110101001001",
    ),
    (
        "off the globe",
        feature(CELL_NW.code, shapely.box(440000, 4416000, 440100, 4416100)),
        "coordinates fall outside longitude/latitude after conversion (wrong --crs?)",
    ),
]


@pytest.mark.parametrize(
    ("bad_feature", "reason"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_a_bad_feature_is_rejected_with_its_index_code_and_reason(
    client: TestClient,
    auth: Auth,
    session: Session,
    tmp_path: Path,
    bad_feature: dict[str, Any],
    reason: str,
) -> None:
    import_parents(session)
    good = cell_feature(CELL_SE)
    problems = rejected_problems(client, auth, write_geojson(tmp_path, [good, bad_feature]))
    assert len(problems) == 1, problems
    assert problems[0]["index"] == 1
    assert problems[0]["code"] == bad_feature["properties"]["code"]
    assert reason in problems[0]["reason"]


def test_duplicate_codes_in_the_file_are_rejected_on_both_features(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    features = [cell_feature(CELL_NW), feature(CELL_NW.code, cell_geometry(CELL_NE))]
    problems = rejected_problems(client, auth, write_geojson(tmp_path, features))
    assert [(p["index"], p["code"]) for p in problems] == [(0, CELL_NW.code), (1, CELL_NW.code)]
    assert all(f"code {CELL_NW.code} appears 2 times in the file" == p["reason"] for p in problems)


def test_a_code_already_in_the_database_is_rejected(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    import_cells(session, (CELL_NW,))
    features = [cell_feature(CELL_NE), feature(CELL_NW.code, cell_geometry(CELL_SW))]
    problems = rejected_problems(client, auth, write_geojson(tmp_path, features))
    assert problems == [
        {
            "index": 1,
            "code": CELL_NW.code,
            "reason": f"code {CELL_NW.code} already exists in the database",
        }
    ]


def test_a_parent_field_that_disagrees_with_the_code_is_rejected(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    features = [
        cell_feature(CELL_NW, community=COMMUNITY.code),
        cell_feature(CELL_NE, community="110101001002"),
    ]
    problems = rejected_problems(
        client, auth, write_geojson(tmp_path, features), {"parent_field": "community"}
    )
    assert [(p["index"], p["code"]) for p in problems] == [(1, CELL_NE.code)] * 2
    reasons = sorted(p["reason"] for p in problems)
    assert reasons == [
        f"code {CELL_NE.code} does not start with its parent's code 110101001002",
        "parent community 110101001002 does not exist",
    ]


def test_a_file_without_the_code_field_says_so(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    unnamed = {
        "type": "Feature",
        "properties": {"bianma": CELL_NW.code},
        "geometry": json.loads(shapely.to_geojson(cell_geometry(CELL_NW))),
    }
    response = post_import(client, auth, write_geojson(tmp_path, [unnamed]))
    assert response.status_code == 422, response.text
    assert "no feature has a code: is the code field right?" in response.json()["detail"]
    assert response.json()["problems"] == [{"index": 0, "code": None, "reason": "code is missing"}]
    named = post_import(client, auth, write_geojson(tmp_path, [unnamed]), {"code_field": "bianma"})
    assert named.status_code == 201, named.text


def test_a_district_given_a_parent_is_rejected(session: Session) -> None:
    district = UnitFeature(0, DISTRICT.code, DISTRICT.name, BLOCK, parent_code="110000")
    with pytest.raises(ImportRejected) as rejected:
        import_units(session, GridLevel.DISTRICT, [district], OPTIONS)
    assert rejected.value.problems == [
        {
            "index": 0,
            "code": DISTRICT.code,
            "reason": "a district has no parent, but parent 110000 is given",
        }
    ]


def test_a_street_whose_district_is_missing_is_rejected(session: Session) -> None:
    street = UnitFeature(0, STREET.code, STREET.name, BLOCK)
    with pytest.raises(ImportRejected, match="1 of 1 features have problems"):
        import_units(session, GridLevel.STREET, [street], OPTIONS)


def test_every_bad_feature_is_listed_not_only_the_first(session: Session) -> None:
    import_parents(session)
    features = [
        UnitFeature(0, None, None, cell_geometry(CELL_NW)),
        UnitFeature(1, CELL_NE.code, CELL_NE.name, cell_geometry(CELL_NE)),
        UnitFeature(2, CELL_SW.code, None, None),
        UnitFeature(3, "110101001009004", None, cell_geometry(CELL_SE)),
    ]
    with pytest.raises(ImportRejected, match="3 of 4 features have problems") as rejected:
        import_units(session, GridLevel.CELL, features, OPTIONS)
    assert [p["index"] for p in rejected.value.problems] == [0, 2, 3]


# --- all or nothing -----------------------------------------------------------------------------


def test_one_bad_feature_means_nothing_is_written(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    before = count_units(session)
    features = [cell_feature(c) for c in (CELL_NW, CELL_NE, CELL_SW)]
    features.append(feature("110101001001004", shapely.Point(116.4005, 39.8995)))
    result = run_cli("grid", "import", str(write_geojson(tmp_path, features)), "--level", "cell")
    assert result.exit_code == 1, result.output
    assert "1 of 4 features have problems; nothing was written" in result.output
    assert "110101001001004" in result.output
    assert "Point" in result.output
    assert count_units(session) == before


# --- repair, gaps, datums -----------------------------------------------------------------------


def test_repair_turns_a_bow_tie_into_two_triangles(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    path = write_geojson(tmp_path, [feature(CELL_SW.code, BOW_TIE, CELL_SW.name)])
    refused = run_cli("grid", "import", str(path), "--level", "cell")
    assert refused.exit_code == 1, refused.output
    assert "Self-intersection" in refused.output
    repaired = run_cli("grid", "import", str(path), "--level", "cell", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "imported 1 cell units from units.geojson, 1 repaired" in repaired.output
    row = session.execute(
        text(
            "SELECT ST_NumGeometries(geom) AS parts, ST_IsValid(geom) AS valid, "
            "area_m2 FROM grid_cell WHERE code = :code"
        ),
        {"code": CELL_SW.code},
    ).one()
    assert (row.parts, row.valid) == (2, True)
    assert row.area_m2 == pytest.approx(111.0 * 85.4 / 2, rel=0.01)  # two triangles, half a cell


def test_a_gap_in_the_community_is_a_warning_with_area_and_place(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    path = write_geojson(tmp_path, [cell_feature(c) for c in (CELL_NW, CELL_NE, CELL_SW)])
    response = post_import(client, auth, path)
    assert response.status_code == 201, response.text
    [warning] = response.json()["warnings"]
    assert (warning["parent_level"], warning["parent_code"]) == ("community", COMMUNITY.code)
    assert warning["area_m2"] == pytest.approx(111.0 * 85.4, rel=0.01)  # the missing SE cell
    assert cell_geometry(CELL_SE).contains(shapely.Point(warning["lon"], warning["lat"]))


def test_the_cli_prints_gap_warnings(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    import_cells(session, (CELL_NW, CELL_NE))
    path = write_geojson(tmp_path, [cell_feature(CELL_SW)])
    result = run_cli("grid", "import", str(path), "--level", "cell")
    assert result.exit_code == 0, result.output
    assert "1 gap warnings" in result.output
    assert f"community {COMMUNITY.code}" in result.output


def test_gcj02_coordinates_land_at_their_wgs84_position(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    lon, lat = GCJ_POINT
    square = shapely.Polygon(
        [(lon, lat), (lon + 0.001, lat), (lon + 0.001, lat + 0.001), (lon, lat + 0.001)]
    )
    path = write_geojson(tmp_path, [feature(DISTRICT.code, square, DISTRICT.name)])
    result = run_cli("grid", "import", str(path), "--level", "district", "--crs", "GCJ-02")
    assert result.exit_code == 0, result.output
    corner = session.execute(
        text(
            "SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointN(ST_ExteriorRing("
            "ST_GeometryN(geom, 1)), 1) AS p FROM grid_region WHERE code = :code) AS corner"
        ),
        {"code": DISTRICT.code},
    ).one()
    _, _, distance_m = GEOD.inv(corner.lon, corner.lat, *WGS_POINT)
    assert distance_m < 1.0


def to_bd09(geometry: shapely.Geometry) -> shapely.Geometry:
    """A WGS-84 geometry as a Baidu map would give it: WGS-84 → GCJ-02 → BD-09, vertex by vertex."""
    return shapely.transform(geometry, lambda coords: gcj02_to_bd09(wgs84_to_gcj02(coords)))


def test_a_bd09_cell_file_imports_without_a_single_outside_problem(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    # Issue 16: the closed-form BD-09 inverse moved every vertex by ~0.1 m, so cells on the
    # community's edge stuck out by 3-14 m² and were refused as "outside its community".
    import_parents(session)
    cells = [feature(c.code, to_bd09(cell_geometry(c)), c.name) for c in CELLS_IN_CODE_ORDER]
    path = write_geojson(tmp_path, cells, "cells_bd09")
    result = run_cli("grid", "import", str(path), "--level", "cell", "--crs", "BD-09")
    assert result.exit_code == 0, result.output
    assert "imported 4 cell units" in result.output
    assert "outside" not in result.output and "gap" not in result.output
    corners = session.execute(
        text(
            "SELECT code, ST_XMin(geom) AS west, ST_YMin(geom) AS south, ST_XMax(geom) AS east, "
            "ST_YMax(geom) AS north FROM grid_cell ORDER BY code"
        )
    ).all()
    for cell, stored in zip(CELLS_IN_CODE_ORDER, corners, strict=True):
        west, south, east, north = cell_geometry(cell).bounds
        _, _, south_west_m = GEOD.inv(stored.west, stored.south, west, south)
        _, _, north_east_m = GEOD.inv(stored.east, stored.north, east, north)
        assert max(south_west_m, north_east_m) < 0.01, cell.code


# --- overlaps -----------------------------------------------------------------------------------


def test_touching_neighbours_and_a_sliver_within_tolerance_are_accepted(session: Session) -> None:
    import_parents(session)
    features = [
        UnitFeature(i, c.code, c.name, cell_geometry(c))
        for i, c in enumerate((CELL_NW, CELL_SW, CELL_SE))
    ]
    features.append(UnitFeature(3, CELL_NE.code, CELL_NE.name, shifted_west(CELL_NE, 0.5)))
    report = import_units(session, GridLevel.CELL, features, OPTIONS)
    assert report.written == 4


def test_an_overlap_beyond_tolerance_is_rejected_on_both_units(session: Session) -> None:
    import_parents(session)
    features = [
        UnitFeature(0, CELL_NW.code, CELL_NW.name, cell_geometry(CELL_NW)),
        UnitFeature(1, CELL_NE.code, CELL_NE.name, shifted_west(CELL_NE, 20.0)),
    ]
    with pytest.raises(ImportRejected) as rejected:
        import_units(session, GridLevel.CELL, features, OPTIONS)
    [first, second] = rejected.value.problems
    assert first["index"] == 0
    assert first["reason"].startswith(f"overlaps {CELL_NE.code} (feature 1) in this file by 20.")
    assert second["index"] == 1
    assert second["reason"].startswith(f"overlaps {CELL_NW.code} (feature 0) in this file by 20.")


def test_an_overlap_with_a_unit_in_the_database_is_rejected(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    import_cells(session, (CELL_NW,))
    path = write_geojson(tmp_path, [feature(CELL_NE.code, shifted_west(CELL_NE, 20.0))])
    [problem] = rejected_problems(client, auth, path)
    assert (problem["index"], problem["code"]) == (0, CELL_NE.code)
    assert problem["reason"].startswith(f"overlaps existing cell {CELL_NW.code} by 20.")


def test_the_overlap_tolerance_is_an_option(session: Session) -> None:
    import_parents(session)
    features = [
        UnitFeature(0, CELL_NW.code, CELL_NW.name, cell_geometry(CELL_NW)),
        UnitFeature(1, CELL_NE.code, CELL_NE.name, shifted_west(CELL_NE, 20.0)),
    ]
    lenient = ImportOptions(overlap_tolerance_m2=25.0)
    assert import_units(session, GridLevel.CELL, features, lenient).written == 2


# --- the API's form and roles -------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.MANAGER, Role.DISPATCHER, Role.INSPECTOR, Role.CITIZEN])
def test_only_an_admin_may_import(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path, role: Role
) -> None:
    path = write_geojson(tmp_path, [feature(DISTRICT.code, BLOCK)])
    response = post_import(client, auth, path, {"level": "district"}, role=role)
    assert response.status_code == 403, response.text
    assert count_units(session) == (0, 0)


@pytest.mark.parametrize(
    ("form", "file_name", "content", "field", "message"),
    [
        ({"level": "county"}, "units.geojson", None, "level", "Input should be 'district'"),
        ({"crs": "EPSG:999999"}, "units.geojson", None, "crs", "unknown coordinate system"),
        ({}, "units.geojson", b"{not json", "file", "cannot read units.geojson"),
        ({}, "units.zip", b"not a zip", "file", "units.zip is not a valid zip file"),
        ({}, "units.kml", None, "file", "must end in .geojson"),
        ({"code_field": "bianma"}, "units.geojson", None, "code_field", "no field 'bianma'"),
    ],
    ids=["level", "crs", "unreadable", "bad zip", "suffix", "code field"],
)
def test_bad_form_input_is_422_naming_the_field(
    client: TestClient,
    auth: Auth,
    tmp_path: Path,
    form: dict[str, str],
    file_name: str,
    content: bytes | None,
    field: str,
    message: str,
) -> None:
    path = tmp_path / file_name
    good = {"type": "FeatureCollection", "features": [cell_feature(CELL_NW)]}
    path.write_bytes(content if content is not None else json.dumps(good).encode())
    response = post_import(client, auth, path, form)
    assert response.status_code == 422, response.text
    assert refused_field(response) == field
    assert message in refusal_text(response)
