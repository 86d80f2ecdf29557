"""Grid generation (pure): squares clipped to the boundary, slivers merged, codes row by row."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import shapely
import shapely.geometry
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.errors import InvalidInput
from grid.codes import GridLevel, code_problem
from grid.generate import GeneratedGrid, GridLayout, generate_grid
from grid.imports import UnitFeature

GEOD = Geod(ellps="WGS84")
# About 1 km × 0.9 km just south of Tiananmen; a notch cut from its south-east corner.
ORIGIN_LON, ORIGIN_LAT = 116.390, 39.890
BLOCK = shapely.box(ORIGIN_LON, ORIGIN_LAT, ORIGIN_LON + 0.0117, ORIGIN_LAT + 0.0081)
NOTCHED = BLOCK.difference(
    shapely.box(ORIGIN_LON + 0.008, ORIGIN_LAT, ORIGIN_LON + 0.02, ORIGIN_LAT + 0.002)
)


def code(unit: UnitFeature) -> str:
    assert unit.code is not None
    return unit.code


def centre(unit: UnitFeature) -> shapely.Point:
    assert unit.geometry is not None
    return unit.geometry.centroid


def area_m2(geometry: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geometry)[0])


@pytest.fixture(scope="module")
def generated() -> GeneratedGrid:
    layout = GridLayout(cell_size_m=100, community_size=3, street_size=2)
    return generate_grid(NOTCHED, district_code="110101", district_name="东城区", layout=layout)


def test_cells_cover_the_boundary_exactly(generated: GeneratedGrid) -> None:
    union = shapely.union_all([cell.geometry for cell in generated.cells])
    assert area_m2(union.symmetric_difference(NOTCHED)) < 1.0
    assert sum(area_m2(cell.geometry) for cell in generated.cells) == pytest.approx(
        area_m2(NOTCHED), rel=1e-4
    )


def test_cells_are_about_the_requested_size_and_slivers_are_merged(
    generated: GeneratedGrid,
) -> None:
    areas = [area_m2(cell.geometry) for cell in generated.cells]
    assert min(areas) >= 0.25 * 100 * 100 * 0.99
    assert max(areas) < 2 * 100 * 100
    assert sorted(areas)[len(areas) // 2] == pytest.approx(10_000, rel=0.01)


def test_codes_follow_the_standard_and_extend_their_parents(generated: GeneratedGrid) -> None:
    assert generated.district.code == "110101"
    for level, units in (
        (GridLevel.STREET, generated.streets),
        (GridLevel.COMMUNITY, generated.communities),
        (GridLevel.CELL, generated.cells),
    ):
        assert all(code_problem(code(unit), level) is None for unit in units)
    street_codes = {street.code for street in generated.streets}
    community_codes = {community.code for community in generated.communities}
    assert {code(community)[:9] for community in generated.communities} == street_codes
    assert {code(cell)[:12] for cell in generated.cells} == community_codes
    assert len({cell.code for cell in generated.cells}) == len(generated.cells)


def test_cells_are_numbered_west_to_east_then_north_to_south(generated: GeneratedGrid) -> None:
    first_community = [c for c in generated.cells if code(c).startswith("110101001001")]
    first, second, fourth = first_community[0], first_community[1], first_community[3]
    assert code(first).endswith("001") and code(second).endswith("002")
    assert centre(second).x > centre(first).x  # east of the first
    assert centre(fourth).y < centre(first).y  # next row, further south
    assert centre(generated.cells[0]).y > ORIGIN_LAT + 0.007  # starts in the north-west


def test_a_bad_district_code_is_refused() -> None:
    with pytest.raises(InvalidInput, match="6 digits"):
        generate_grid(BLOCK, district_code="1101", district_name="x", layout=GridLayout())


def test_grid_generate_on_the_cli_writes_every_level_once(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    boundary_file = tmp_path / "block.geojson"
    boundary_file.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "示范区"},
                        "geometry": shapely.geometry.mapping(NOTCHED),
                    }
                ],
            }
        )
    )
    args = (
        "grid",
        "generate",
        "--boundary",
        str(boundary_file),
        "--district-code",
        "110199",
        "--community-size",
        "3",
        "--street-size",
        "2",
    )
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    cells = session.scalar(text("SELECT count(*) FROM grid_cell WHERE code LIKE '110199%'"))
    assert f"{cells} cell" in result.output and cells is not None and cells > 80
    name = session.scalar(text("SELECT name FROM grid_region WHERE code = '110199'"))
    assert name == "示范区"

    again = run_cli(*args)
    assert again.exit_code == 1
    assert "district 110199 exists already" in again.output
