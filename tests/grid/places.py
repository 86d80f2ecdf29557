"""A tiny named grid for tests: one district, street and community, and a 2×2 block of cells.

The cells are 0.001° squares around the origin (116.400 E, 39.900 N), numbered west→east,
north→south:

    001 | 002        NW | NE
    ----+----   =    ---+---
    003 | 004        SW | SE
"""

from __future__ import annotations

from dataclasses import dataclass

from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.orm import Session

from grid.revision import record_grid_change

ORIGIN_LON = 116.400
ORIGIN_LAT = 39.900
CELL_SIZE_DEG = 0.001
WGS84_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Place:
    code: str
    name: str


DISTRICT = Place("110101", "东城区")
STREET = Place("110101001", "东华门街道")
COMMUNITY = Place("110101001001", "多福巷社区")
CELL_NW = Place("110101001001001", "多福巷一号网格")
CELL_NE = Place("110101001001002", "多福巷二号网格")
CELL_SW = Place("110101001001003", "多福巷三号网格")
CELL_SE = Place("110101001001004", "多福巷四号网格")
CELLS_IN_CODE_ORDER = (CELL_NW, CELL_NE, CELL_SW, CELL_SE)

# South-west corner of each cell, in (column, row) steps from the block's south-west corner.
CELL_OFFSETS: dict[Place, tuple[int, int]] = {
    CELL_NW: (-1, 0),
    CELL_NE: (0, 0),
    CELL_SW: (-1, -1),
    CELL_SE: (0, -1),
}
BLOCK_WEST = ORIGIN_LON - CELL_SIZE_DEG
BLOCK_EAST = ORIGIN_LON + CELL_SIZE_DEG
BLOCK_SOUTH = ORIGIN_LAT - CELL_SIZE_DEG
BLOCK_NORTH = ORIGIN_LAT + CELL_SIZE_DEG

# Points on shared boundaries: the lowest code among the touching cells must win.
EDGE_NW_NE = (ORIGIN_LON, ORIGIN_LAT + CELL_SIZE_DEG / 2)
EDGE_NE_SE = (ORIGIN_LON + CELL_SIZE_DEG / 2, ORIGIN_LAT)
EDGE_SW_SE = (ORIGIN_LON, ORIGIN_LAT - CELL_SIZE_DEG / 2)
VERTEX_OF_ALL_FOUR = (ORIGIN_LON, ORIGIN_LAT)


def rectangle_wkt(west: float, south: float, east: float, north: float) -> str:
    ring = f"{west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}"
    return f"POLYGON(({ring}))"


def cell_wkt(cell: Place) -> str:
    column, row = CELL_OFFSETS[cell]
    west = ORIGIN_LON + column * CELL_SIZE_DEG
    south = ORIGIN_LAT + row * CELL_SIZE_DEG
    return rectangle_wkt(west, south, west + CELL_SIZE_DEG, south + CELL_SIZE_DEG)


def block_wkt() -> str:
    return rectangle_wkt(BLOCK_WEST, BLOCK_SOUTH, BLOCK_EAST, BLOCK_NORTH)


def centre_of(cell: Place) -> tuple[float, float]:
    column, row = CELL_OFFSETS[cell]
    return (
        ORIGIN_LON + (column + 0.5) * CELL_SIZE_DEG,
        ORIGIN_LAT + (row + 0.5) * CELL_SIZE_DEG,
    )


def east_of_block(distance_m: float) -> tuple[float, float]:
    """A point `distance_m` due east of the middle of the block's eastern edge of NE."""
    lon, lat, _ = WGS84_GEOD.fwd(BLOCK_EAST, ORIGIN_LAT + CELL_SIZE_DEG / 2, 90.0, distance_m)
    return float(lon), float(lat)


def add_region(
    session: Session, *, level: str, place: Place, wkt: str, parent: Place | None
) -> None:
    session.execute(
        text(
            "INSERT INTO grid_region (level, code, name, parent_id, geom, area_m2) "
            "SELECT :level, :code, :name, (SELECT id FROM grid_region WHERE code = :parent), g, "
            "ST_Area(g::geography) FROM (SELECT ST_Multi(ST_GeomFromText(:wkt, 4326)) AS g) s"
        ),
        {
            "level": level,
            "code": place.code,
            "name": place.name,
            "wkt": wkt,
            "parent": parent.code if parent else None,
        },
    )


def add_cell(session: Session, *, place: Place, wkt: str, community: Place) -> None:
    session.execute(
        text(
            "INSERT INTO grid_cell (code, name, community_id, geom, area_m2) "
            "SELECT :code, :name, (SELECT id FROM grid_region WHERE code = :community), g, "
            "ST_Area(g::geography) FROM (SELECT ST_Multi(ST_GeomFromText(:wkt, 4326)) AS g) s"
        ),
        {"code": place.code, "name": place.name, "wkt": wkt, "community": community.code},
    )


def seed_block(session: Session) -> None:
    """The district, street, community and the four cells; a new grid revision."""
    add_region(session, level="district", place=DISTRICT, wkt=block_wkt(), parent=None)
    add_region(session, level="street", place=STREET, wkt=block_wkt(), parent=DISTRICT)
    add_region(session, level="community", place=COMMUNITY, wkt=block_wkt(), parent=STREET)
    for cell in CELLS_IN_CODE_ORDER:
        add_cell(session, place=cell, wkt=cell_wkt(cell), community=COMMUNITY)
    record_grid_change(session)
    session.flush()
