"""Generating at city scale: default sizes, band-by-band cutting, district names from common
boundary files, progress, and locating in every district of a (coarse) whole-Beijing grid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import shapely
import shapely.affinity
import shapely.geometry
from fastapi.testclient import TestClient
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import Result

import grid.generate
from citygrid.accounts.roles import Role
from citygrid.errors import InvalidInput
from grid.generate import GeneratedGrid, GridLayout, generate_grid, layout_for
from grid.imports import read_features
from tests.conftest import throwaway_database

ROOT = Path(__file__).resolve().parents[2]
BEIJING_DATA = ROOT / "bench" / "data" / "beijing-districts"
GEOD = Geod(ellps="WGS84")
# Each district's centre as AMap gives it (GCJ-02), as in bench/grid_generate.py.
DISTRICT_CENTRES = {
    "东城区": (116.418757, 39.917544),
    "西城区": (116.366794, 39.915309),
    "朝阳区": (116.486409, 39.921489),
    "丰台区": (116.286968, 39.863642),
    "石景山区": (116.195445, 39.914601),
    "海淀区": (116.310316, 39.956074),
    "门头沟区": (116.105381, 39.937183),
    "房山区": (116.139157, 39.735535),
    "通州区": (116.658603, 39.902486),
    "顺义区": (116.653525, 40.128936),
    "昌平区": (116.235906, 40.218085),
    "大兴区": (116.338033, 39.728908),
    "怀柔区": (116.637122, 40.324272),
    "平谷区": (117.112335, 40.144783),
    "密云区": (116.843352, 40.377362),
    "延庆区": (115.985006, 40.465325),
}
# About 1 km × 0.9 km just south of Tiananmen, as in test_generate.py.
BLOCK = shapely.box(116.390, 39.890, 116.390 + 0.0117, 39.890 + 0.0081)


def wgs84_boundary(code: str) -> shapely.Geometry:
    geometry = read_features(BEIJING_DATA / f"{code}.geojson", crs="GCJ-02")[0].geometry
    assert geometry is not None
    return geometry


def area_km2(geometry: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geometry)[0]) / 1e6


@pytest.fixture(scope="module")
def dongcheng() -> GeneratedGrid:
    boundary = wgs84_boundary("110101")
    layout = layout_for(boundary)
    return generate_grid(boundary, district_code="110101", district_name="东城区", layout=layout)


def test_default_sizes_give_dongcheng_streets_and_communities_of_realistic_size(
    dongcheng: GeneratedGrid,
) -> None:
    # Dongcheng (42 km²) has 17 streets; a core street covers 2-4 km², a community ~0.25 km².
    streets = [area_km2(street.geometry) for street in dongcheng.streets]
    assert 12 <= len(streets) <= 24
    assert 2 <= float(np.mean(streets)) <= 4
    communities = [area_km2(community.geometry) for community in dongcheng.communities]
    assert float(np.median(communities)) == pytest.approx(0.25, rel=0.02)
    assert 0.15 <= float(np.mean(communities)) <= 0.25
    assert float(np.median([area_km2(cell.geometry) for cell in dongcheng.cells])) == (
        pytest.approx(0.01, rel=0.01)
    )


def test_outer_districts_get_streets_of_10_to_20_km2_and_a_city_stays_within_999() -> None:
    beijing = wgs84_boundary("110100")
    west = beijing.intersection(shapely.box(115.42, 39.77, 115.82, 40.10))  # ~1,000 km²
    assert 10 <= layout_for(west).street_area_km2 <= 21
    city = layout_for(beijing)
    assert 10 <= city.street_area_km2 <= 21
    plan = grid.generate.plan_grid(
        beijing, district_code="110100", district_name="北京市", layout=city
    )
    span = city.community_size * city.street_size
    assert grid.generate.street_blocks(plan.projected, span) <= 999
    assert plan.cell_estimate == pytest.approx(1_640_000, rel=0.01)


def test_cutting_in_bands_gives_the_same_grid_as_in_one_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Bands of one street row (4 cells) put a band edge every 4 rows: the slivers on an edge
    # merge as in one piece.
    boundary = wgs84_boundary("110102")
    layout = GridLayout(cell_size_m=100, community_size=2, street_size=2)
    whole = generate_grid(boundary, district_code="110102", district_name="西城区", layout=layout)
    monkeypatch.setattr(grid.generate, "BAND_ROWS", 1)
    banded = generate_grid(boundary, district_code="110102", district_name="西城区", layout=layout)
    for level in ("streets", "communities", "cells"):
        one, many = getattr(whole, level), getattr(banded, level)
        assert level != "streets" or len(one) > 250
        assert [unit.code for unit in one] == [unit.code for unit in many]
        difference = shapely.symmetric_difference(
            np.array([unit.geometry for unit in one]), np.array([unit.geometry for unit in many])
        )
        assert float(shapely.area(difference).max()) < 1e-14  # square degrees: < 0.0001 m²


def test_too_many_streets_and_too_large_blocks_are_refused() -> None:
    with pytest.raises(InvalidInput, match="exceed the code's 999"):
        layout_for(BLOCK, community_size=32)
    beijing = wgs84_boundary("110100")
    coarse = GridLayout(cell_size_m=1000, community_size=1, street_size=1)
    with pytest.raises(InvalidInput, match="more than 999 streets"):
        generate_grid(beijing, district_code="110100", district_name="北京市", layout=coarse)


def boundary_file(tmp_path: Path, properties: dict[str, str]) -> Path:
    path = tmp_path / "boundary.geojson"
    feature = {
        "type": "Feature",
        "properties": properties,
        "geometry": shapely.geometry.mapping(BLOCK),
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def region_name(session: Session, code: str) -> str | None:
    name = session.scalar(text("SELECT name FROM grid_region WHERE code = :code"), {"code": code})
    return None if name is None else str(name)


def test_generate_reads_the_code_and_name_fields_of_a_name_zh_file(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    path = boundary_file(tmp_path, {"adcode": "110198", "name_zh": "示范区"})
    fields = ("--code-field", "adcode", "--name-field", "name_zh")
    result = run_cli("grid", "generate", "--boundary", str(path), *fields)
    assert result.exit_code == 0, result.output
    assert "district 110198 示范区" in result.output
    assert region_name(session, "110198") == "示范区"


def test_district_name_wins_over_the_name_field(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    path = boundary_file(tmp_path, {"adcode": "110197", "name_zh": "示范区"})
    result = run_cli(
        "grid",
        "generate",
        "--boundary",
        str(path),
        "--district-code",
        "110196",
        "--name-field",
        "name_zh",
        "--district-name",
        "样板区",
    )
    assert result.exit_code == 0, result.output
    assert region_name(session, "110196") == "样板区"


def test_without_a_name_field_the_district_is_named_by_its_code_with_a_warning(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    path = boundary_file(tmp_path, {"adcode": "110195", "name_zh": "示范区"})
    result = run_cli("grid", "generate", "--boundary", str(path), "--code-field", "adcode")
    assert result.exit_code == 0, result.output
    assert "no name in field 'name'" in result.output and "--name-field" in result.output
    assert region_name(session, "110195") == "110195"


def test_bad_fields_and_sizes_are_refused_with_a_clear_line(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    path = boundary_file(tmp_path, {"adcode": "110194", "name_zh": "示范区"})
    missing = run_cli("grid", "generate", "--boundary", str(path), "--name-field", "nom")
    assert missing.exit_code == 1
    assert "the file has no field 'nom'" in missing.output
    no_code = run_cli("grid", "generate", "--boundary", str(path))
    assert no_code.exit_code == 1
    assert "give --district-code" in no_code.output and "adcode" in no_code.output
    area = run_cli(
        "grid", "generate", "--boundary", str(path), "--code-field", "adcode",
        "--street-area", "-3",
    )  # fmt: skip
    assert area.exit_code == 1
    assert "street_area must be a positive area" in area.output
    assert "Traceback" not in missing.output + no_code.output + area.output


def test_a_file_of_several_districts_needs_a_district_code(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    features = [
        {
            "type": "Feature",
            "properties": {"adcode": code, "name_zh": name},
            "geometry": shapely.geometry.mapping(shapely.affinity.translate(BLOCK, xoff=offset)),
        }
        for code, name, offset in (("110101", "东城区", 0.0), ("110102", "西城区", -0.02))
    ]
    path = tmp_path / "districts.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    result = run_cli("grid", "generate", "--boundary", str(path), "--code-field", "adcode")
    assert result.exit_code == 1
    assert "the file holds 2 district codes (110101, 110102)" in result.output


def test_all_of_beijing_at_1_km_generates_with_progress_and_locates_in_every_district(
    run_cli: Callable[..., Result],
    session: Session,
    client: TestClient,
    auth: Callable[[Role], dict[str, str]],
) -> None:
    # The municipal boundary as published (GCJ-02, adcode/name_zh), at a coarse cell size; the
    # 100 m run (1.6M cells) is bench/grid_generate.py's.
    result = run_cli(
        "grid",
        "generate",
        "--boundary",
        str(BEIJING_DATA / "110100.geojson"),
        "--crs",
        "GCJ-02",
        "--code-field",
        "adcode",
        "--name-field",
        "name_zh",
        "--cell-size",
        "1000",
    )
    assert result.exit_code == 0, result.output
    assert "district 110100 北京市" in result.output
    # Not a terminal: progress comes as lines (a terminal gets a bar).
    assert "cutting and writing cells: 0/16,39" in result.output
    cells = session.scalar(text("SELECT count(*) FROM grid_cell WHERE code LIKE '110100%'"))
    assert cells is not None and 16_000 < cells < 17_500
    assert f"{cells} cell" in result.output
    streets = session.scalar(text("SELECT count(*) FROM grid_region WHERE level = 'street'"))
    assert streets is not None and streets <= 999

    for district, (lon, lat) in DISTRICT_CENTRES.items():
        response = client.get(
            "/api/grid/locate",
            params={"lon": lon, "lat": lat, "crs": "GCJ-02"},
            headers=auth(Role.INSPECTOR),
        )
        assert response.status_code == 200, (district, response.text)
        located = response.json()
        assert located["district"] == {"code": "110100", "name": "北京市"}, district
        assert not located["snapped"], district


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    with throwaway_database(server_url) as url:
        yield url


def test_the_bench_runs_at_its_tiny_size(empty_database: str) -> None:
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "grid_generate.py"), "--tiny"],
        cwd=ROOT,
        env={**os.environ, "BENCH_DATABASE_URL": empty_database},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 0, f"{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
    assert "| Dongcheng | 4,310 | 17 |" in finished.stdout
    assert "| 110101 东城区 | 116.418757, 39.917544 | cell 110101" in finished.stdout
