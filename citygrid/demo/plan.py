"""What the demo history is made of: where and when reports come, and about what.

Reports come where they come in real life (markets, stations, old hutong blocks, tourist
streets over a uniform background), when they come (inspectors on patrol by day, citizens from
morning to late evening, fewer at weekends), in a plausible mix of categories. A component case
stands a few metres from a component of its kind; every street gets its share of street-office
matters, however small the street. Everything is drawn from the generator handed in, in numpy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import numpy as np
import numpy.typing as npt
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.demo import rules as demo_rules
from citygrid.demo import timeline
from citygrid.settings import get_settings
from grid.index import CellIndex, cell_index_for
from grid.revision import grid_revision

HISTORY_DAYS = 90
# (name, WGS-84 lon, lat, relative weight, spread in metres)
HOTSPOTS: tuple[tuple[str, float, float, float, float], ...] = (
    ("王府井 Wangfujing", 116.4105, 39.9130, 3.0, 220),
    ("东单 Dongdan", 116.4170, 39.9075, 1.5, 180),
    ("北京站 Beijing Railway Station", 116.4210, 39.9020, 3.5, 250),
    ("簋街 Guijie food street", 116.4240, 39.9395, 2.5, 200),
    ("南锣鼓巷 Nanluoguxiang hutongs", 116.3975, 39.9350, 2.5, 180),
    ("雍和宫 Yonghegong", 116.4110, 39.9470, 1.5, 200),
    ("天坛东门 Temple of Heaven east gate", 116.4150, 39.8810, 1.5, 250),
    ("前门大街 Qianmen street", 116.3925, 39.8975, 2.0, 220),
    ("东直门 Dongzhimen", 116.4280, 39.9400, 1.5, 230),
    ("崇文门菜市场 Chongwenmen market", 116.4120, 39.8985, 2.0, 150),
)
BACKGROUND_SHARE = 0.4
# Probability weights of (kind, code) of the 2013 standard; unknown codes are skipped. Street
# vending, garbage and parking dominate; every demo department's types are present (lamps for
# the lighting office, roads for municipal facilities), and a fifth goes to street offices.
CATEGORY_WEIGHTS: dict[tuple[str, str], float] = {
    ("event", "0102"): 14,  # 暴露垃圾: sanitation
    ("event", "0103"): 5,
    ("event", "0104"): 5,
    ("event", "0101"): 3,  # 私搭乱建: enforcement
    ("event", "0501"): 8,
    ("event", "0503"): 5,
    ("event", "0504"): 6,
    ("event", "0201"): 5,
    ("event", "0202"): 2,
    ("event", "0507"): 3,
    ("event", "0106"): 3,  # 绿地脏乱: landscaping
    ("event", "0110"): 3,  # 道路破损: municipal facilities
    ("event", "0401"): 0.5,
    ("event", "0406"): 1.5,  # 道路积水: drainage
    ("event", "0404"): 1.5,
    ("event", "0402"): 0.5,  # 自来水管破裂: water supply
    ("event", "0506"): 6,  # 非机动车乱停放: street office
    ("event", "0505"): 4,  # no traffic police in the demo: street office
    ("event", "0502"): 2,
    ("event", "0511"): 2,
    ("event", "0113"): 1,
    ("event", "0301"): 2,
    ("component", "0101"): 1.5,  # covers, lamps, bins, toilets: the inventory's maintainers
    ("component", "0102"): 1.5,
    ("component", "0103"): 1.5,
    ("component", "0118"): 3,
    ("component", "0305"): 2,
    ("component", "0301"): 1,
    ("component", "0401"): 0.5,
    ("component", "0402"): 1,
    ("component", "0205"): 0.3,
    ("component", "0201"): 0.5,
    ("component", "0212"): 0.5,
}
INSPECTOR_SHARE = 0.7
URGENT_SHARE = 0.1
WEEKEND_VOLUME = 0.8
# Reports per clock hour (city time): inspectors patrol 07:00–19:00, citizens call all day.
REPORT_HOURS = {
    "inspector": tuple(1.0 if 7 <= hour < 19 else 0.0 for hour in range(24)),
    "citizen": (
        *(0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.5, 1.8, 1.8, 1.6),
        *(1.4, 1.5, 1.6, 1.6, 1.5, 1.4, 1.3, 1.3, 1.2, 1.0, 0.7, 0.4),
    ),
}
# Every street office gets at least this many cases due in the evaluated period, however small
# its street (a generated grid has streets of one or two cells).
MIN_STREET_OFFICE_CASES = 6
TOP_UP_AGE_DAYS = (7, 80)
COMPONENT_OFFSET_M = (1.0, 5.0)  # how far from its component a report is made
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Category:
    id: int
    kind: str
    code: str
    name_zh: str
    limit_normal: float | None
    limit_urgent: float | None
    department_type: str | None
    weight: float
    auto_dispatch: bool


@dataclass
class Places:
    """Where the cases are: point, cell, street, the hotspot they belong to (-1: none) and
    the component they are about (-1: none)."""

    points: npt.NDArray[np.float64]
    cell_ids: npt.NDArray[np.int64]
    street_codes: list[str]
    hotspots: npt.NDArray[np.int64]
    component_ids: npt.NDArray[np.int64]
    component_distance_m: npt.NDArray[np.float64]
    maintainer_ids: npt.NDArray[np.int64]


@dataclass(frozen=True)
class Plan:
    """Each demo case: its place, category, reporter, urgency and random draws."""

    places: Places
    categories: list[Category]
    category_of: npt.NDArray[np.int64]
    reported_at: list[datetime]
    by_inspector: npt.NDArray[np.bool_]
    urgent: npt.NDArray[np.bool_]
    draws: npt.NDArray[np.float64]

    def category(self, i: int) -> Category:
        return self.categories[int(self.category_of[i])]


@dataclass(frozen=True)
class Grid:
    """The cell index (cells in code order with their street) and cell ids by code."""

    index: CellIndex
    cell_ids: Mapping[str, int]
    street_of_cell: Mapping[int, str]

    @classmethod
    def load(cls, session: Session) -> Grid:
        index = cell_index_for(session, grid_revision(session))
        cell_ids = {row.code: row.id for row in session.execute(text(CELL_IDS))}
        streets = {cell_ids[unit.cell_code]: unit.street_code for unit in index.units}
        return cls(index, cell_ids, streets)

    def cell_id(self, row: int) -> int:
        return self.cell_ids[self.index.units[row].cell_code]


CELL_IDS = "SELECT code, id FROM grid_cell"


def make_plan(
    rng: np.random.Generator, grid: Grid, categories: list[Category], now: datetime, cases: int
) -> Plan:
    places = _places(rng, grid, cases)
    count = len(places.points)
    reported_at, by_inspector = _report_times(rng, count, now)
    weights = np.array([category.weight for category in categories])
    return Plan(
        places=places,
        categories=categories,
        category_of=rng.choice(len(categories), size=count, p=weights / weights.sum()),
        reported_at=reported_at,
        by_inspector=by_inspector,
        urgent=rng.uniform(size=count) < URGENT_SHARE,
        draws=rng.uniform(size=(count, timeline.DRAWS_PER_CASE)),
    )


CATEGORIES = """
SELECT c.id, c.kind, c.code, c.name_zh, c.limit_hours_normal, c.limit_hours_urgent,
       c.department_type
FROM category c WHERE c.level = 'minor' AND c.retired_at IS NULL ORDER BY c.kind, c.code, c.id
"""


def weighted_categories(session: Session) -> list[Category]:
    """The categories of the demo mix that exist, with their weights."""
    auto = set(demo_rules.AUTO_DISPATCH)
    chosen: list[Category] = []
    for row in session.execute(text(CATEGORIES)):
        weight = CATEGORY_WEIGHTS.get((row.kind, row.code))
        if weight and not any(c.kind == row.kind and c.code == row.code for c in chosen):
            chosen.append(
                Category(
                    row.id,
                    row.kind,
                    row.code,
                    row.name_zh,
                    row.limit_hours_normal,
                    row.limit_hours_urgent,
                    row.department_type,
                    weight,
                    f"{row.kind}:{row.code}" in auto,
                )
            )
    return chosen


def _places(rng: np.random.Generator, grid: Grid, cases: int) -> Places:
    """Up to `cases` points inside the grid, in random order (so that time and place are
    independent), with their cells and streets."""
    # Some background points fall outside the district's irregular outline: draw extra.
    points, hotspots = _points(rng, int(cases * 1.4))
    rows = grid.index.locate(points)
    inside = np.flatnonzero(rows >= 0)[:cases]
    keep = inside[rng.permutation(len(inside))]
    count = len(keep)
    return Places(
        points=points[keep],
        cell_ids=np.array([grid.cell_id(row) for row in rows[keep].tolist()], dtype=np.int64),
        street_codes=[grid.index.units[row].street_code for row in rows[keep].tolist()],
        hotspots=hotspots[keep],
        component_ids=np.full(count, -1, dtype=np.int64),
        component_distance_m=np.zeros(count),
        maintainer_ids=np.full(count, -1, dtype=np.int64),
    )


def _points(
    rng: np.random.Generator, count: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Hotspot clusters plus a uniform background over Dongcheng's extent, and the hotspot of
    each point (-1 for the background)."""
    background = int(count * BACKGROUND_SHARE)
    weights = np.array([spot[3] for spot in HOTSPOTS])
    spot = rng.choice(len(HOTSPOTS), size=count - background, p=weights / weights.sum())
    centres = np.array([[s[1], s[2]] for s in HOTSPOTS])[spot]
    spread_deg = np.array([s[4] for s in HOTSPOTS])[spot] / 111_000
    clustered = centres + rng.normal(size=(len(spot), 2)) * spread_deg[:, None] * [1.3, 1.0]
    uniform = np.column_stack(
        [rng.uniform(116.385, 116.447, background), rng.uniform(39.860, 39.968, background)]
    )
    hotspots = np.concatenate([spot, np.full(background, -1)]).astype(np.int64)
    return np.vstack([clustered, uniform]), hotspots


def _report_times(
    rng: np.random.Generator, count: int, now: datetime
) -> tuple[list[datetime], npt.NDArray[np.bool_]]:
    """Report times over the last HISTORY_DAYS in the reporters' hours (fewer at weekends),
    in order, and whether an inspector made each report."""
    zone = get_settings().city_zone
    earliest = now - timedelta(days=HISTORY_DAYS)
    first_day = earliest.astimezone(zone).date()
    days = [
        first_day + timedelta(days=k)
        for k in range((now.astimezone(zone).date() - first_day).days + 1)
    ]
    midnights = np.array([datetime.combine(day, time(0), zone).timestamp() for day in days])
    day_weights = np.array([WEEKEND_VOLUME if day.isoweekday() >= 6 else 1.0 for day in days])
    hour_weights = {
        role: np.array(weights) / sum(weights) for role, weights in REPORT_HOURS.items()
    }
    by_inspector = rng.uniform(size=count) < INSPECTOR_SHARE
    moments = np.zeros(count)
    todo = np.arange(count)
    while len(todo):  # draws that fall after now or before the period are drawn again
        day = rng.choice(len(days), size=len(todo), p=day_weights / day_weights.sum())
        inspector_hour = rng.choice(24, size=len(todo), p=hour_weights["inspector"])
        citizen_hour = rng.choice(24, size=len(todo), p=hour_weights["citizen"])
        hour = np.where(by_inspector[todo], inspector_hour, citizen_hour)
        second = np.floor(rng.uniform(0, 3600, size=len(todo)))
        moments[todo] = midnights[day] + hour * 3600 + second
        late = (moments[todo] > now.timestamp()) | (moments[todo] <= earliest.timestamp())
        todo = todo[late]
    order = np.argsort(moments, kind="stable")
    return [datetime.fromtimestamp(float(m), UTC) for m in moments[order]], by_inspector[order]


# For each component case, the nearest component of its category within ~500 m (KNN on the
# GiST index, bounded by a box so that a category without components scans nothing).
NEAREST_COMPONENTS = text("""
SELECT p.i, nearest.id, ST_X(nearest.geom) AS lon, ST_Y(nearest.geom) AS lat, nearest.cell_id,
       nearest.maintainer_department_id
FROM unnest(CAST(:i AS int[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]),
            CAST(:category_id AS int[])) AS p(i, lon, lat, category_id)
CROSS JOIN LATERAL (
    SELECT cp.id, cp.geom, cp.cell_id, cp.maintainer_department_id
    FROM component cp
    WHERE cp.category_id = p.category_id AND cp.status <> 'removed'
      AND cp.geom && ST_Expand(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), 0.005)
    ORDER BY cp.geom <-> ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)
    LIMIT 1
) AS nearest
ORDER BY p.i
""")


def place_components(session: Session, rng: np.random.Generator, plan: Plan, grid: Grid) -> None:
    """Move each component case to a few metres from the nearest component of its category
    (within ~500 m), as an inspector reports the cover or lamp in front of them."""
    places = plan.places
    wanted = [i for i in range(len(plan.reported_at)) if plan.category(i).kind == "component"]
    if not wanted:
        return
    params = {
        "i": wanted,
        "lon": places.points[wanted, 0].tolist(),
        "lat": places.points[wanted, 1].tolist(),
        "category_id": [plan.category(i).id for i in wanted],
    }
    found = session.execute(NEAREST_COMPONENTS, params).all()
    if not found:
        return
    metres = rng.uniform(*COMPONENT_OFFSET_M, size=len(found))
    angle = rng.uniform(0, 2 * np.pi, size=len(found))
    origin = np.array([[row.lon, row.lat] for row in found])
    shift = np.column_stack([np.sin(angle), np.cos(angle)]) * metres[:, None] / METRES_PER_DEGREE
    shift[:, 0] /= np.cos(np.radians(origin[:, 1]))
    located = grid.index.locate(origin + shift)
    for k, row in enumerate(found):
        same_cell = located[k] >= 0 and grid.cell_id(int(located[k])) == row.cell_id
        places.points[row.i] = origin[k] + shift[k] if same_cell else origin[k]
        places.component_distance_m[row.i] = metres[k] if same_cell else 0.0
        places.cell_ids[row.i] = row.cell_id
        places.component_ids[row.i] = row.id
        places.maintainer_ids[row.i] = row.maintainer_department_id or -1
        places.street_codes[row.i] = grid.street_of_cell[row.cell_id]


def top_up_street_offices(
    rng: np.random.Generator,
    plan: Plan,
    grid: Grid,
    specialists: Mapping[str, str],
    now: datetime,
) -> None:
    """Give every street office at least MIN_STREET_OFFICE_CASES cases due in the evaluated
    period: in a street that has fewer, some older reports elsewhere become street-office
    matters (parked bicycles, washing hung out) in one of its cells."""
    office_kinds = [
        k
        for k, category in enumerate(plan.categories)
        if category.kind == "event" and category.department_type not in specialists
    ]
    if not office_kinds:
        return
    places, times = plan.places, np.array([moment.timestamp() for moment in plan.reported_at])
    youngest, oldest = (now - timedelta(days=days) for days in TOP_UP_AGE_DAYS)
    older = (times <= youngest.timestamp()) & (times >= oldest.timestamp())
    kinds = np.array([category.department_type not in specialists for category in plan.categories])
    to_office = kinds[plan.category_of] & (places.maintainer_ids < 0)
    counted = Counter(np.array(places.street_codes)[older & to_office].tolist())
    cells_of = _cells_by_street(grid)
    short = [
        street
        for street in sorted(cells_of)
        for _ in range(MIN_STREET_OFFICE_CASES - counted[street])
    ]
    spare = rng.permutation(np.flatnonzero(older & ~to_office & (places.component_ids < 0)))
    weights = np.array([plan.categories[k].weight for k in office_kinds])
    for street, i in zip(short, spare.tolist(), strict=False):  # while spare reports last
        cell_ids, points = cells_of[street]
        cell = int(rng.integers(len(cell_ids)))
        places.points[i], places.cell_ids[i] = points[cell], cell_ids[cell]
        places.street_codes[i], places.hotspots[i] = street, -1
        plan.category_of[i] = rng.choice(office_kinds, p=weights / weights.sum())


def _cells_by_street(
    grid: Grid,
) -> dict[str, tuple[list[int], npt.NDArray[np.float64]]]:
    """Each street's cell ids and a point inside each of them."""
    inside = shapely.get_coordinates(shapely.point_on_surface(grid.index.polygons))
    rows_of: dict[str, list[int]] = {}
    for row, unit in enumerate(grid.index.units):
        rows_of.setdefault(unit.street_code, []).append(row)
    return {
        street: ([grid.cell_id(row) for row in rows], inside[rows])
        for street, rows in rows_of.items()
    }
