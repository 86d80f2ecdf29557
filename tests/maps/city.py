"""A square test city for the maps: 20 × 20 cells of 0.001°, two streets, and cases in bulk.

One district (110102); the west half of the columns is street 110102001 (community
110102001001), the east half street 110102002 (community 110102002001). Cells are addressed by
(row, column) from the south-west corner; their codes run west→east, south→north within each
community.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from grid.revision import record_grid_change

SIDE = 20
WEST, SOUTH = 116.0, 39.0
STEP = 0.001
DISTRICT = "110102"
WEST_STREET, EAST_STREET = "110102001", "110102002"
WEST_COMMUNITY, EAST_COMMUNITY = "110102001001", "110102002001"

Cell = tuple[int, int]  # (row, column)


def envelope(west_col: int, south_row: int, east_col: int, north_row: int) -> str:
    return (
        f"ST_Multi(ST_MakeEnvelope({WEST + west_col * STEP}, {SOUTH + south_row * STEP}, "
        f"{WEST + east_col * STEP}, {SOUTH + north_row * STEP}, 4326))"
    )


def add_region(session: Session, code: str, level: str, parent: str | None, geom: str) -> None:
    session.execute(
        text(
            f"INSERT INTO grid_region (level, code, name, parent_id, geom, area_m2) "
            f"SELECT :level, :code, :name, (SELECT id FROM grid_region WHERE code = :parent), "
            f"g, ST_Area(g::geography) FROM (SELECT {geom} AS g) q"
        ),
        {"level": level, "code": code, "name": f"{level} {code}", "parent": parent},
    )


def seed_city(session: Session) -> None:
    """The district, two streets, two communities and 400 cells; a new grid revision."""
    half = SIDE // 2
    add_region(session, DISTRICT, "district", None, envelope(0, 0, SIDE, SIDE))
    add_region(session, WEST_STREET, "street", DISTRICT, envelope(0, 0, half, SIDE))
    add_region(session, EAST_STREET, "street", DISTRICT, envelope(half, 0, SIDE, SIDE))
    add_region(session, WEST_COMMUNITY, "community", WEST_STREET, envelope(0, 0, half, SIDE))
    add_region(session, EAST_COMMUNITY, "community", EAST_STREET, envelope(half, 0, SIDE, SIDE))
    session.execute(
        text(
            """
            INSERT INTO grid_cell (code, name, community_id, geom, area_m2)
            SELECT m.code || lpad((r * :half + c % :half + 1)::text, 3, '0'),
                   'cell ' || r || ',' || c, m.id, g.geom, ST_Area(g.geom::geography)
            FROM generate_series(0, :side - 1) r, generate_series(0, :side - 1) c
            CROSS JOIN LATERAL (SELECT ST_Multi(ST_MakeEnvelope(
                :west + c * :step, :south + r * :step,
                :west + (c + 1) * :step, :south + (r + 1) * :step, 4326)) AS geom) g
            JOIN grid_region m ON m.code = CASE WHEN c < :half THEN :wc ELSE :ec END
            """
        ),
        {
            "side": SIDE,
            "half": half,
            "west": WEST,
            "south": SOUTH,
            "step": STEP,
            "wc": WEST_COMMUNITY,
            "ec": EAST_COMMUNITY,
        },
    )
    record_grid_change(session)
    session.flush()


def cell_code(cell: Cell) -> str:
    row, column = cell
    community = WEST_COMMUNITY if column < SIDE // 2 else EAST_COMMUNITY
    return f"{community}{row * (SIDE // 2) + column % (SIDE // 2) + 1:03d}"


def add_cases(
    session: Session,
    counts: Mapping[Cell, int],
    *,
    created_at: datetime,
    category_id: int,
    status: str = "reported",
    urgency: str = "normal",
    department_id: int | None = None,
    due_at: datetime | None = None,
    handled_at: datetime | None = None,
) -> None:
    """`counts[cell]` cases in each cell, at the cell's centre, all alike."""
    codes = [cell_code(cell) for cell in counts]
    session.execute(
        text(
            """
            INSERT INTO event_case (number, status, category_id, urgency, description, geom,
                                    cell_id, department_id, created_at, due_at, handled_at)
            SELECT 'M' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 19), :status,
                   :category_id, :urgency, 'map test', ST_PointOnSurface(c.geom), c.id,
                   :department_id, :created_at, :due_at, :handled_at
            FROM unnest(CAST(:codes AS text[]), CAST(:counts AS int[])) AS w(code, n)
            JOIN grid_cell c ON c.code = w.code
            CROSS JOIN LATERAL generate_series(1, w.n)
            """
        ),
        {
            "codes": codes,
            "counts": list(counts.values()),
            "status": status,
            "category_id": category_id,
            "urgency": urgency,
            "department_id": department_id,
            "created_at": created_at,
            "due_at": due_at,
            "handled_at": handled_at,
        },
    )


def block(corner: Cell, size: int = 3) -> list[Cell]:
    """The size × size cells whose south-west cell is `corner`."""
    row, column = corner
    return [(row + dr, column + dc) for dr in range(size) for dc in range(size)]


def every_cell() -> list[Cell]:
    return [(row, column) for row in range(SIDE) for column in range(SIDE)]


def two_minor_categories(session: Session) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """(id, code, major code) of two minor categories under different major categories."""
    rows = session.execute(
        text(
            "SELECT DISTINCT ON (p.id) k.id, k.code, p.code AS major FROM category k "
            "JOIN category p ON p.id = k.parent_id "
            "WHERE k.level = 'minor' AND k.kind = 'event' AND k.code <> p.code "
            "ORDER BY p.id, k.id LIMIT 2"
        )
    ).all()
    assert len(rows) == 2
    first, second = rows
    return (first.id, first.code, first.major), (second.id, second.code, second.major)


# The planted city of the map page tests: one case in every cell, 30 more in each of 9 cells.
PLANTED = block((8, 3))  # 9 cells in the west street
PLANTED_AT = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def seed_planted_city(session: Session) -> int:
    """The 20×20 test city: 1 case in every cell, 30 more in each planted cell; the category id."""
    seed_city(session)
    (category_id, _, _), _ = two_minor_categories(session)
    add_cases(
        session, dict.fromkeys(every_cell(), 1), created_at=PLANTED_AT, category_id=category_id
    )
    add_cases(session, dict.fromkeys(PLANTED, 30), created_at=PLANTED_AT, category_id=category_id)
    session.flush()
    return category_id
