"""The demo inventory: covers along streets, lamps at regular spacing, bins at corners."""

from __future__ import annotations

import re

import pytest
from pyproj import Geod
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.demo.components import load_demo_components
from events.models import Category
from tests.events.seed import add_case, add_department
from tests.grid.places import CELL_NW, CELLS_IN_CODE_ORDER, seed_block

# Generates the demo's component inventory.
pytestmark = pytest.mark.heavy

GEOD = Geod(ellps="WGS84")
DEPARTMENT_SUFFIXES = ("GS", "PS", "SZ", "LD", "HW", "CG")


@pytest.fixture
def departments(session: Session) -> dict[str, Department]:
    seed_block(session)
    return {
        suffix: add_department(session, code=f"110101-{suffix}", kind=suffix)
        for suffix in DEPARTMENT_SUFFIXES
    }


def per_category(session: Session) -> dict[str, int]:
    rows = session.execute(
        text(
            "SELECT cat.code, count(*) FROM component cp JOIN category cat"
            " ON cat.id = cp.category_id GROUP BY cat.code"
        )
    )
    return {code: int(found) for code, found in rows}


def test_each_cell_gets_covers_lamps_and_a_bin_with_their_units(
    session: Session, departments: dict[str, Department]
) -> None:
    written = load_demo_components(session)
    cells = len(CELLS_IN_CODE_ORDER)
    counts = per_category(session)
    assert {code: counts[code] for code in ("0101", "0102", "0103", "0118", "0305")} == {
        "0101": cells,
        "0102": cells,
        "0103": cells,
        "0118": 2 * cells,
        "0305": cells,
    }
    assert written == sum(counts.values()) and counts.get("0301", 0) <= 1
    rows = session.execute(
        text(
            "SELECT cp.code, cat.code AS category_code, cp.status, m.code AS maintainer,"
            " o.code AS owner, s.code AS supervisor,"
            " ST_Contains(gc.geom, cp.geom) AS inside"
            " FROM component cp JOIN category cat ON cat.id = cp.category_id"
            " JOIN grid_cell gc ON gc.id = cp.cell_id"
            " LEFT JOIN department m ON m.id = cp.maintainer_department_id"
            " LEFT JOIN department o ON o.id = cp.owner_department_id"
            " LEFT JOIN department s ON s.id = cp.supervisor_department_id"
        )
    ).all()
    for row in rows:
        assert re.fullmatch(rf"110101{row.category_code}\d{{6}}", row.code), row.code
        assert row.inside and row.status in ("in_use", "damaged")
        assert row.owner is not None and row.supervisor is not None
    covers = {row.category_code: row.maintainer for row in rows if row.category_code < "0104"}
    assert covers == {"0101": "110101-GS", "0102": "110101-PS", "0103": "110101-PS"}
    assert {row.maintainer for row in rows if row.category_code == "0118"} <= {"110101-LD", None}
    changes = session.scalar(text("SELECT count(*) FROM component_change"))
    assert changes == written


def test_lamps_stand_50_metres_apart_and_bins_at_the_corner(
    session: Session, departments: dict[str, Department]
) -> None:
    load_demo_components(session)
    lamps = session.execute(
        text(
            "SELECT ST_X(cp.geom), ST_Y(cp.geom) FROM component cp"
            " JOIN category cat ON cat.id = cp.category_id JOIN grid_cell gc ON gc.id = cp.cell_id"
            " WHERE cat.code = '0118' AND gc.code = :cell ORDER BY ST_Y(cp.geom)"
        ),
        {"cell": CELL_NW.code},
    ).all()
    (lon1, lat1), (lon2, lat2) = lamps
    _, _, spacing_m = GEOD.inv(lon1, lat1, lon2, lat2)
    assert spacing_m == pytest.approx(55.5, abs=1.0)  # half of a 0.001° cell's height


def test_loading_twice_adds_nothing_and_demo_cases_get_their_component(
    session: Session, departments: dict[str, Department]
) -> None:
    cover = session.scalar(
        select(Category).where(Category.kind == "component", Category.code == "0102")
    )
    assert cover is not None
    case = add_case(session, category=cover, place=CELL_NW)  # the cell's middle
    session.execute(
        text(
            "UPDATE event_case SET geom = ST_SetSRID(ST_MakePoint("
            " ST_XMin(gc.geom) + 0.5 * (ST_XMax(gc.geom) - ST_XMin(gc.geom)),"
            " ST_YMin(gc.geom) + 0.08 * (ST_YMax(gc.geom) - ST_YMin(gc.geom)) + 0.00003), 4326)"
            " FROM grid_cell gc WHERE gc.code = :cell AND event_case.id = :case_id"
        ),
        {"cell": CELL_NW.code, "case_id": case.id},
    )  # ~3 m north of the sewage cover in the middle of the southern street
    assert load_demo_components(session) > 0
    assert load_demo_components(session) == 0
    session.refresh(case)
    assert case.component_match == "suggested"
    assert case.component_distance_m == pytest.approx(3.3, abs=0.2)
    code = session.scalar(
        text("SELECT code FROM component WHERE id = :id"), {"id": case.component_id}
    )
    assert code is not None and code.startswith("1101010102")
