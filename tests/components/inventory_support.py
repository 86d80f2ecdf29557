"""A small component inventory on the test block and in one far cell, for the search and the
component case tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.events.seed import add_department
from tests.grid.places import (
    CELL_NE,
    CELL_NW,
    CELL_SE,
    CELL_SW,
    Place,
    add_cell,
    add_region,
    centre_of,
    rectangle_wkt,
    seed_block,
)

STANDARD = "GB/T 30428.2-2013"
FAR_DISTRICT = Place("110102", "西城区")
FAR_STREET = Place("110102001", "西长安街街道")
FAR_COMMUNITY = Place("110102001001", "府右街社区")
FAR_CELL = Place("110102001001001", "府右街一号网格")
FAR_LON, FAR_LAT = 116.380, 39.910  # 2 km west of the block, in the far cell


@dataclass(frozen=True)
class Inventory:
    """The seeded components by name, and the two maintaining departments' ids."""

    ids: dict[str, int]
    water_id: int
    roads_id: int


def category_id(session: Session, code: str) -> int:
    found = session.scalar(
        text("SELECT id FROM category WHERE kind = 'component' AND code = :c AND standard = :s"),
        {"c": code, "s": STANDARD},
    )
    assert found is not None, code
    return int(found)


def add_component(
    session: Session,
    code: str,
    category: str,
    wkt: str,
    *,
    status: str = "in_use",
    maintainer_id: int | None = None,
) -> int:
    """A component whose cell is the cell containing it (None outside the grid)."""
    return int(
        session.scalar(
            text(
                "INSERT INTO component (code, category_id, geom, cell_id, status, "
                "maintainer_department_id, owner_department_id) "
                "SELECT :code, :category_id, g, (SELECT id FROM grid_cell c "
                "WHERE ST_Intersects(c.geom, g) ORDER BY c.code LIMIT 1), :status, :m, :m "
                "FROM (SELECT ST_GeomFromText(:wkt, 4326) AS g) s RETURNING id"
            ),
            {
                "code": code,
                "category_id": category_id(session, category),
                "wkt": wkt,
                "status": status,
                "m": maintainer_id,
            },
        )
    )


def point(place: Place) -> str:
    lon, lat = centre_of(place)
    return f"POINT({lon} {lat})"


def seed_inventory(session: Session) -> Inventory:
    """Four components in the block, one in a far cell of another district:

    nw_cover 0101 in_use (water) · ne_cover 0102 damaged (roads) · sw_parking 0201 in_use (water)
    · se_fence 0408 removed, a line, no maintainer · far_cover 0101 in_use (water).
    """
    seed_block(session)
    add_region(session, level="district", place=FAR_DISTRICT, wkt=far_wkt(), parent=None)
    add_region(session, level="street", place=FAR_STREET, wkt=far_wkt(), parent=FAR_DISTRICT)
    add_region(session, level="community", place=FAR_COMMUNITY, wkt=far_wkt(), parent=FAR_STREET)
    add_cell(session, place=FAR_CELL, wkt=far_wkt(), community=FAR_COMMUNITY)
    water = add_department(session, code="WATER-01", kind="water_supply_enterprise")
    roads = add_department(session, code="ROADS-01", kind="roads")
    se_lon, se_lat = centre_of(CELL_SE)
    ids = {
        "nw_cover": add_component(session, "1101010101000001", "0101", point(CELL_NW),
                                  maintainer_id=water.id),
        "ne_cover": add_component(session, "1101010102000001", "0102", point(CELL_NE),
                                  status="damaged", maintainer_id=roads.id),
        "sw_parking": add_component(session, "1101010201000001", "0201", point(CELL_SW),
                                    maintainer_id=water.id),
        "se_fence": add_component(
            session, "1101010408000001", "0408",
            f"LINESTRING({se_lon - 0.0002} {se_lat}, {se_lon + 0.0002} {se_lat})",
            status="removed"),
        "far_cover": add_component(session, "1101020101000001", "0101",
                                   f"POINT({FAR_LON} {FAR_LAT})", maintainer_id=water.id),
    }  # fmt: skip
    session.flush()
    return Inventory(ids, water.id, roads.id)


def far_wkt() -> str:
    return rectangle_wkt(FAR_LON - 0.0005, FAR_LAT - 0.0005, FAR_LON + 0.0005, FAR_LAT + 0.0005)
