"""The demo city's component inventory: generated, but laid out the way a city's is.

Each ~100 m cell of the demo grid reads as a block with a street along its southern edge and
one along its western edge: three manhole covers (water, sewage, storm water) along the
southern street, two street lamps 50 m apart along the western one, a litter bin at the
north-eastern corner, and in every twelfth cell a public toilet in the middle. Points that a
clipped cell at the district's edge does not contain are left out. Identifiers follow the
standard: the district's 6-digit code, the category's major and minor code, a 6-digit
sequence per category. Owners, supervisors and maintainers are the demo departments (the
enterprise or office that runs that kind of asset); one lamp in ten has no maintainer on
record, so its cases fall back to the routing rules. One INSERT … SELECT writes them all.
"""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from components import matching

# (category code, placement, fraction along the edge, owner, supervisor, maintainer): the
# departments by their suffix after the district code (citygrid.demo.city.DEMO_DEPARTMENTS).
LAYOUT = (
    ("0101", "street", 0.2, "GS", "SZ", "GS"),  # 上水井盖: the water company
    ("0102", "street", 0.5, "PS", "SZ", "PS"),  # 污水井盖: the drainage company
    ("0103", "street", 0.8, "PS", "SZ", "PS"),  # 雨水井盖
    ("0118", "lamps", 0.25, "LD", "SZ", "LD"),  # 路灯: the street-lighting office
    ("0118", "lamps", 0.75, "LD", "SZ", "LD"),
    ("0305", "corner", 0.9, "HW", "CG", "HW"),  # 垃圾箱: sanitation
    ("0301", "centre", 0.5, "HW", "CG", "HW"),  # 公共厕所
)
TOILET_EVERY_CELLS = 12
LAMPS_WITHOUT_MAINTAINER_EVERY = 10
DAMAGED_EVERY = 31  # about 3 % of the inventory is damaged
INSET = 0.08  # of the cell's width or height: the street runs just inside the cell

INSERT_DEMO_COMPONENTS = text(f"""
WITH layout (category_code, placement, fraction, owner, supervisor, maintainer) AS (
    SELECT * FROM jsonb_to_recordset(CAST(:layout AS jsonb)) AS l(category_code text,
        placement text, fraction float8, owner text, supervisor text, maintainer text)
),
categories AS (
    SELECT DISTINCT ON (code) id, code, name_zh FROM category
    WHERE kind = 'component' AND level = 'minor' AND retired_at IS NULL
    ORDER BY code, id
),
boxes AS (
    SELECT cell.id AS cell_id, cell.code AS cell_code, cell.name AS cell_name, cell.geom,
        ST_XMin(cell.geom) AS x0, ST_YMin(cell.geom) AS y0,
        ST_XMax(cell.geom) - ST_XMin(cell.geom) AS w, ST_YMax(cell.geom) - ST_YMin(cell.geom) AS h
    FROM grid_cell cell
    WHERE cell.code LIKE :district || '%'
),
placed AS (
    SELECT b.cell_id, b.cell_code, b.cell_name, l.*, ST_SetSRID(CASE l.placement
        WHEN 'street' THEN ST_MakePoint(b.x0 + l.fraction * b.w, b.y0 + {INSET} * b.h)
        WHEN 'lamps' THEN ST_MakePoint(b.x0 + {INSET} * b.w, b.y0 + l.fraction * b.h)
        WHEN 'corner' THEN ST_MakePoint(b.x0 + l.fraction * b.w, b.y0 + l.fraction * b.h)
        ELSE ST_MakePoint(b.x0 + 0.5 * b.w, b.y0 + 0.5 * b.h) END, 4326) AS point,
        b.geom AS cell_geom
    FROM boxes b CROSS JOIN layout l
    WHERE l.placement <> 'centre' OR b.cell_id % {TOILET_EVERY_CELLS} = 0
),
numbered AS (
    SELECT p.*, cat.id AS category_id, cat.name_zh,
        row_number() OVER (PARTITION BY cat.code ORDER BY p.cell_code, p.fraction) AS sequence
    FROM placed p JOIN categories cat ON cat.code = p.category_code
    WHERE ST_Contains(p.cell_geom, p.point)
)
INSERT INTO component (code, category_id, geom, cell_id, status, name, address,
    owner_department_id, supervisor_department_id, maintainer_department_id, attributes)
SELECT :district || n.category_code || lpad(n.sequence::text, 6, '0'), n.category_id, n.point,
    n.cell_id,
    CASE WHEN (n.cell_id + n.sequence) % {DAMAGED_EVERY} = 0 THEN 'damaged' ELSE 'in_use' END,
    n.name_zh || ' ' || n.cell_code || '-' || lpad(n.sequence::text, 6, '0'), n.cell_name,
    owner.id, supervisor.id,
    CASE WHEN n.placement = 'lamps' AND n.sequence % {LAMPS_WITHOUT_MAINTAINER_EVERY} = 0
        THEN NULL ELSE maintainer.id END,
    jsonb_build_object('source', 'demo', 'placement', n.placement)
FROM numbered n
LEFT JOIN department owner ON owner.code = :district || '-' || n.owner
LEFT JOIN department supervisor ON supervisor.code = :district || '-' || n.supervisor
LEFT JOIN department maintainer ON maintainer.code = :district || '-' || n.maintainer
""")

RECORD_DEMO_CHANGES = text("""
INSERT INTO component_change (component_id, action, changes)
SELECT id, 'imported', jsonb_build_object('source', 'demo')
FROM component WHERE code LIKE :district || '%' AND attributes ->> 'source' = 'demo'
""")

NEAREST_TO_CASE = matching.nearest_component_query(
    point="c.geom",
    category_id="c.category_id",
    radius_m="coalesce(cat.component_radius_m, CAST(:radius_m AS float8))",
)
# Cases of component categories that have no component yet get the nearest one, as intake would
# have suggested: the demo's component history then has repeat cases to show.
MATCH_DEMO_CASES = text(f"""
WITH matches AS (
    SELECT c.id AS case_id, nearest.id AS component_id, nearest.distance_m
    FROM event_case c
    JOIN category cat ON cat.id = c.category_id AND cat.kind = 'component'
    CROSS JOIN LATERAL ({NEAREST_TO_CASE}) nearest
    WHERE c.component_id IS NULL AND c.component_match IS NULL
)
UPDATE event_case c
SET component_id = m.component_id, component_distance_m = m.distance_m,
    component_match = 'suggested'
FROM matches m WHERE c.id = m.case_id
""")


def demo_components_loaded(session: Session, district_code: str) -> bool:
    found = session.scalar(
        text("SELECT 1 FROM component WHERE code LIKE :district || '%' LIMIT 1"),
        {"district": district_code},
    )
    return found is not None


def load_demo_components(
    session: Session, *, district_code: str = "110101", default_radius_m: float = 15.0
) -> int:
    """Generate the district's inventory unless it has one, and match its component cases to
    it; components written (0 when there were some already)."""
    if demo_components_loaded(session, district_code):
        return 0
    params = {"district": district_code, "layout": layout_json()}
    result = session.execute(INSERT_DEMO_COMPONENTS, params)
    written = int(result.rowcount)  # type: ignore[attr-defined]
    session.execute(RECORD_DEMO_CHANGES, {"district": district_code})
    session.execute(MATCH_DEMO_CASES, {"radius_m": default_radius_m})
    session.flush()
    return written


def layout_json() -> str:
    """LAYOUT as the JSON array INSERT_DEMO_COMPONENTS reads."""
    keys = ("category_code", "placement", "fraction", "owner", "supervisor", "maintainer")
    return json.dumps([dict(zip(keys, row, strict=True)) for row in LAYOUT])
