"""Importing components: every format, every rejection, all or nothing, update mode with history.

Components lie on the named test block of `places` (four 0.001° cells around 116.400 E,
39.900 N); their categories come from the shipped taxonomy (0101 上水井盖, 0102 污水井盖).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.errors import ImportRejected
from components.import_files import PointColumns, read_components
from components.imports import geometry_reasons, import_components
from events.taxonomy import STANDARD_2026
from grid.geometry import wgs84_to_gcj02
from tests.components.import_support import (
    Row,
    at,
    code,
    components,
    count,
    import_file,
    rejection,
    row,
    seed_block_and_departments,
    upload,
    write_csv,
    write_geojson,
    write_with_ogr,
)
from tests.events.seed import add_category
from tests.grid.places import CELL_NE, CELL_NW, CELL_SE, CELL_SW, centre_of, east_of_block

# A bow-tie over the SW cell: its edges cross, so it is not a valid polygon.
BOW_TIE = shapely.Polygon(
    [(116.3990, 39.8990), (116.4000, 39.9000), (116.4000, 39.8990), (116.3990, 39.9000)]
)


@pytest.fixture
def block(session: Session) -> list[Department]:
    """The test block, and departments SZ-01 (water) and LD-01 (lighting)."""
    return seed_block_and_departments(session)


# --- formats ------------------------------------------------------------------------------------


def test_geojson_points_lines_and_polygons_get_their_cells_departments_and_history(
    session: Session, block: list[Department], tmp_path: Path
) -> None:
    line = shapely.LineString([(116.4002, 39.9005), (116.4008, 39.9005)])  # inside NE
    polygon = shapely.box(116.4002, 39.8992, 116.4008, 39.8998)  # inside SE
    rows = [
        row(1, name="井盖一", address="多福巷 1 号", owner="SZ-01", maintainer="LD-01", depth=1.5),
        row(2, line, code=code(2, "0102"), category="0102", status="damaged", supervisor="SZ-01"),
        row(3, polygon, category=None),  # the category comes from the identifier
    ]
    result = import_file(session, write_geojson(tmp_path / "c.geojson", rows))

    assert (result.rows, result.created, result.updated, result.source_format) == (
        3,
        3,
        0,
        "GeoJSON",
    )
    found = components(session)
    first, second, third = found[code(1)], found[code(2, "0102")], found[code(3)]
    assert (first.cell, first.owner, first.maintainer, first.supervisor) == (
        CELL_NW.code,
        "SZ-01",
        "LD-01",
        None,
    )
    assert (first.name, first.address, first.status, first.kind) == (
        "井盖一",
        "多福巷 1 号",
        "in_use",
        "POINT",
    )
    assert first.attributes == {"depth": 1.5}  # other columns; nulls are left out
    assert (second.cell, second.status, second.kind, second.category) == (
        CELL_NE.code,
        "damaged",
        "LINESTRING",
        "0102",
    )
    assert (third.cell, third.category, third.kind) == (CELL_SE.code, "0101", "POLYGON")
    history = session.execute(
        text("SELECT action, import_id FROM component_change ORDER BY component_id")
    ).all()
    assert history == [("imported", result.import_id)] * 3
    assert count(session, "component_import") == 1


FOREIGN_KEYS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid IN ('component'::regclass, 'component_change'::regclass) AND contype = 'f'
ORDER BY 1, 2
"""


def test_a_bulk_import_checks_the_foreign_keys_once_and_keeps_them(
    session: Session, block: list[Department], tmp_path: Path
) -> None:
    keys_before = session.execute(text(FOREIGN_KEYS)).all()
    rows = [row(n, owner="SZ-01", maintainer="LD-01") for n in range(1, 6)]
    table = read_components(write_geojson(tmp_path / "c.geojson", rows), crs=None)
    result = import_components(session, table, bulk_rows_min=1)
    assert (result.created, count(session, "component"), count(session, "component_change")) == (
        5,
        5,
        5,
    )
    assert {found.maintainer for found in components(session).values()} == {"LD-01"}
    assert session.execute(text(FOREIGN_KEYS)).all() == keys_before
    assert len(keys_before) == 9


@pytest.mark.parametrize(("suffix", "driver"), [(".gpkg", "GPKG"), (".shp", "ESRI Shapefile")])
def test_geopackage_and_shapefile_are_imported(
    session: Session, block: list[Department], tmp_path: Path, suffix: str, driver: str
) -> None:
    rows = [row(1, maintainer="SZ-01"), row(2, at(CELL_SW), maintainer="LD-01")]
    path = write_with_ogr(tmp_path / f"c{suffix}", rows, driver, "Point")
    result = import_file(session, path)
    assert result.created == 2
    found = components(session)
    assert (found[code(1)].cell, found[code(2)].cell) == (CELL_NW.code, CELL_SW.code)
    assert found[code(2)].maintainer == "LD-01"


def test_a_zipped_shapefile_is_uploaded_and_imported(
    client: TestClient, session: Session, block: list[Department], tmp_path: Path
) -> None:
    write_with_ogr(tmp_path / "parts.shp", [row(1), row(2, at(CELL_SE))], "ESRI Shapefile", "Point")
    archive = tmp_path / "components.zip"
    with zipfile.ZipFile(archive, "w") as target:
        for part in tmp_path.glob("parts.*"):
            target.write(part, part.name)
    response = upload(client, session, archive)
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 2
    assert response.json()["source_format"] == "Shapefile"


def test_csv_points_come_from_lon_lat_or_x_y_or_named_columns(
    session: Session, block: list[Department], tmp_path: Path
) -> None:
    (lon, lat), (x, y) = centre_of(CELL_NE), centre_of(CELL_SW)
    plain = write_csv(tmp_path / "a.csv", ["code", "lat", "lon"], [[code(1), lat, lon]])
    by_xy = write_csv(tmp_path / "b.csv", ["code", "X", "Y", "note"], [[code(2), x, y, "new"]])
    named = write_csv(tmp_path / "c.csv", ["code", "jd", "wd"], [[code(3), lon, lat]])
    import_file(session, plain)
    import_file(session, by_xy)
    import_file(session, named, point_columns=PointColumns(lon="jd", lat="wd"))
    found = components(session)
    assert [found[code(n)].cell for n in (1, 2, 3)] == [CELL_NE.code, CELL_SW.code, CELL_NE.code]
    assert found[code(2)].attributes == {"note": "new"}
    assert found[code(1)].category == "0101"  # no category column: taken from the identifier


def test_blank_csv_values_are_no_values_and_spaces_are_trimmed(
    session: Session, block: list[Department], tmp_path: Path
) -> None:
    lon, lat = centre_of(CELL_NW)
    header = ["code", "category", "status", "maintainer", "lon", "lat"]
    path = write_csv(
        tmp_path / "c.csv", header, [[f" {code(1)} ", " 0101", " ", "LD-01 ", lon, lat]]
    )
    import_file(session, path)
    stored = components(session)[code(1)]
    assert (stored.category, stored.status, stored.maintainer) == ("0101", "in_use", "LD-01")


def test_a_gcj02_csv_lands_at_its_wgs84_position(
    session: Session, block: list[Department], tmp_path: Path
) -> None:
    wgs84 = np.array([centre_of(CELL_SE)])
    gcj_lon, gcj_lat = wgs84_to_gcj02(wgs84)[0]
    path = write_csv(tmp_path / "gcj.csv", ["code", "lon", "lat"], [[code(1), gcj_lon, gcj_lat]])
    result = import_file(session, path, crs="GCJ-02")
    stored = components(session)[code(1)]
    assert result.source_crs == "GCJ-02"
    assert stored.cell == CELL_SE.code
    assert (stored.lon, stored.lat) == pytest.approx(tuple(wgs84[0]), abs=1e-7)


def test_a_17_digit_identifier_belongs_to_a_3_digit_minor_category(
    session: Session, block: list[Department], tmp_path: Path
) -> None:
    add_category(session, code="01001", kind="component", standard=STANDARD_2026)
    path = write_geojson(tmp_path / "c.geojson", [row(1, code="11010101001000001", category=None)])
    import_file(session, path)
    assert components(session)["11010101001000001"].category == "01001"


# --- rejections ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"code": "110101010100001"}, "has 15 digits"),
        ({"code": "1101010101000000"}, "sequence number 000000 must not be zero"),
        ({"code": None}, "code is missing"),
        ({"code": code(1, "0198"), "category": "0198"}, "category 0198 does not exist"),
        ({"code": code(1, "0198"), "category": None}, "0198 (taken from the identifier) does not"),
        ({"code": code(1, "0504"), "category": "0504"}, "0504 is an event category"),
        ({"category": "0102"}, "says category 0101 (major 01, minor 01), but its category is 0102"),
        ({"category": "01"}, "01 is a major category"),
        ({"owner": "NOPE"}, "owner department 'NOPE' does not exist"),
        ({"maintainer": "GONE"}, "maintainer department 'GONE' does not exist"),
        ({"supervisor": "X"}, "supervisor department 'X' does not exist"),
        ({"status": "broken"}, "status 'broken' is not one of in_use, damaged, removed"),
        ({"geometry": None}, "geometry is missing or unreadable"),
        ({"geometry": shapely.Point(*east_of_block(500))}, "outside the grid"),
        ({"geometry": BOW_TIE}, "invalid geometry: Self-intersection"),
        ({"geometry": shapely.Point(216.4, 39.9)}, "outside longitude/latitude"),
        ({"geometry": {"type": "GeometryCollection", "geometries": []}}, "GeometryCollection"),
    ],
)
def test_each_bad_row_is_rejected_with_its_index_code_and_reason(
    session: Session, block: list[Department], tmp_path: Path, fields: Row, reason: str
) -> None:
    rows = [row(2, at(CELL_NE)), row(1, **fields)]
    problems = rejection(session, write_geojson(tmp_path / "c.geojson", rows))
    assert len(problems) == 1, problems
    assert problems[0]["index"] == 1
    assert problems[0]["code"] == rows[1]["code"]
    assert reason in problems[0]["reason"]


@pytest.mark.parametrize(
    ("lon", "reason"),
    [("nan", "coordinates are NaN"), ("abc", "lon is 'abc', not a number"), ("", "lon is empty")],
)
def test_a_csv_row_without_usable_coordinates_is_rejected(
    session: Session, block: list[Department], tmp_path: Path, lon: str, reason: str
) -> None:
    good_lon, lat = centre_of(CELL_NW)
    lines = [[code(1), good_lon, lat], [code(2), lon, lat]]
    problems = rejection(session, write_csv(tmp_path / "c.csv", ["code", "lon", "lat"], lines))
    assert [(p["index"], p["code"]) for p in problems] == [(1, code(2))]
    assert reason in problems[0]["reason"]


def test_duplicate_codes_in_the_file_are_rejected_on_every_copy(
    session: Session, block: list[Department], tmp_path: Path
) -> None:
    path = write_geojson(tmp_path / "c.geojson", [row(1), row(2), row(1, at(CELL_SE))])
    problems = rejection(session, path)
    assert [(p["index"], p["reason"]) for p in problems] == [
        (0, f"code {code(1)} appears 2 times in the file"),
        (2, f"code {code(1)} appears 2 times in the file"),
    ]


def test_every_bad_row_is_listed_and_nothing_is_written(
    session: Session, block: list[Department], tmp_path: Path
) -> None:
    rows = [
        row(1),
        row(2, status="gone"),
        row(3),
        row(4, owner="NOPE", category="0102"),
    ]  # 2 problems
    problems = rejection(session, write_geojson(tmp_path / "c.geojson", rows))
    assert [p["index"] for p in problems] == [1, 3, 3]
    assert count(session, "component_import") == 0
    assert count(session, "component_change") == 0


def test_a_file_without_a_code_field_or_coordinates_says_so(
    session: Session, block: list[Department], tmp_path: Path
) -> None:
    no_code = write_geojson(tmp_path / "c.geojson", [{"geometry": at(CELL_NW), "bianma": "1"}])
    with pytest.raises(Exception, match="no field 'code'"):
        read_components(no_code, crs=None)
    no_points = write_csv(tmp_path / "c.csv", ["code", "e", "n"], [[code(1), 116.4, 39.9]])
    with pytest.raises(Exception, match="no coordinate columns lon/lat or x/y"):
        read_components(no_points, crs=None)


def test_empty_and_nan_geometries_have_their_own_reasons() -> None:
    with np.errstate(invalid="ignore"):
        nan_line = shapely.LineString([(np.nan, 1), (2, 2)])
    geometries = np.array([at(CELL_NW), shapely.Point(), nan_line, None], dtype=object)
    assert geometry_reasons(geometries) == {
        1: "geometry is empty",
        2: "coordinates are NaN",
        3: "geometry is missing or unreadable",
    }


# --- update mode --------------------------------------------------------------------------------


def test_update_mode_changes_existing_components_and_records_each_change(
    session: Session, block: list[Department], tmp_path: Path
) -> None:
    water, lighting = block
    first = [row(1, maintainer="SZ-01", name="井盖"), row(2, at(CELL_NE), maintainer="SZ-01")]
    import_file(session, write_geojson(tmp_path / "a.geojson", first))
    second = [
        row(1, status="damaged", maintainer="LD-01"),  # name left empty: kept
        row(2, at(CELL_NE), maintainer="SZ-01"),  # the same: unchanged
        row(3, at(CELL_SW)),  # new
    ]
    path = write_geojson(tmp_path / "b.geojson", second)
    problems = rejection_without_emptying(session, path)
    assert [p["reason"] for p in problems] == [
        f"code {code(1)} already exists in the database (use update mode)",
        f"code {code(2)} already exists in the database (use update mode)",
    ]

    result = import_file(session, path, update=True)

    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    found = components(session)
    assert (found[code(1)].status, found[code(1)].maintainer, found[code(1)].name) == (
        "damaged",
        "LD-01",
        "井盖",
    )
    history = session.execute(
        text(
            "SELECT c.code, h.action, h.changes, h.import_id FROM component_change h "
            "JOIN component c ON c.id = h.component_id ORDER BY h.id"
        )
    ).all()
    assert [(h.code, h.action) for h in history] == [
        (code(1), "imported"),
        (code(2), "imported"),
        (code(3), "imported"),
        (code(1), "updated"),
    ]
    assert history[-1].changes == {
        "status": ["in_use", "damaged"],
        "maintainer_department_id": [water.id, lighting.id],
    }
    assert history[-1].import_id == result.import_id


def rejection_without_emptying(session: Session, path: Path) -> list[dict[str, Any]]:
    with pytest.raises(ImportRejected) as caught:
        import_file(session, path)
    return caught.value.problems
