"""Demo: the address gazetteer of the demo district (standard addresses and points of interest).

Roads and 胡同 of Dongcheng with their rough course (data/dongcheng_roads.csv) and points of
interest (data/dongcheng_pois.csv): real, public names; positions digitised by hand from public
maps to about 100 m, in GCJ-02 like the district boundary (see data/README.md). Along each road
the demo numbers the houses as Beijing does (odd numbers on one side, even on the other, a
甲 number now and then), makes some numbers residential compounds (号院) with buildings (号楼)
and units (单元), and keeps only what falls inside the demo grid's cells.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from grid.geometry import gcj02_to_wgs84
from grid.places.imports import PlaceRow, write_places

DEMO_DATA = Path(__file__).parent / "data"
DEMO_SOURCE = "demo"
DISTRICT_CODE = "110101"  # citygrid.demo.city.DEMO_DISTRICT_CODE (city imports this module)
METRES_PER_DEGREE_LAT = 111_320.0
HOUSE_SPACING_M = 14.0  # one house number per this much road, on each side
SIDE_OFFSET_M = 12.0  # houses stand this far from the road's middle
COMPOUND_EVERY = 5  # every fifth number is a compound (号院) of buildings
UNITS_EVERY = 3  # … and every third compound lists its buildings' units (单元)
EXTRA_NUMBER_EVERY = 17  # 甲 numbers: 甲17号 beside 17号


@dataclass(frozen=True)
class Road:
    name: str
    start: tuple[float, float]  # GCJ-02 lon, lat
    end: tuple[float, float]

    @property
    def length_m(self) -> float:
        dx, dy = self._metres()
        return math.hypot(dx, dy)

    def _metres(self) -> tuple[float, float]:
        scale = math.cos(math.radians(self.start[1]))
        return (
            (self.end[0] - self.start[0]) * METRES_PER_DEGREE_LAT * scale,
            (self.end[1] - self.start[1]) * METRES_PER_DEGREE_LAT,
        )

    def point(self, fraction: float, offset_m: float) -> tuple[float, float]:
        """The point `fraction` along the road, `offset_m` to its left (negative: right)."""
        dx, dy = self._metres()
        length = math.hypot(dx, dy) or 1.0
        scale = math.cos(math.radians(self.start[1]))
        left_x, left_y = -dy / length * offset_m, dx / length * offset_m
        lon = self.start[0] + (self.end[0] - self.start[0]) * fraction
        lat = self.start[1] + (self.end[1] - self.start[1]) * fraction
        return (
            lon + left_x / (METRES_PER_DEGREE_LAT * scale),
            lat + left_y / METRES_PER_DEGREE_LAT,
        )


def read_roads(path: Path = DEMO_DATA / "dongcheng_roads.csv") -> list[Road]:
    with path.open(encoding="utf-8") as file:
        return [
            Road(
                row["name"],
                (float(row["from_lon"]), float(row["from_lat"])),
                (float(row["to_lon"]), float(row["to_lat"])),
            )
            for row in csv.DictReader(file)
        ]


def road_places(road: Road) -> Iterator[tuple[str, str, float, float]]:
    """(kind, name, lon, lat) of the road's houses, compounds, buildings and units (GCJ-02)."""
    count = max(8, int(road.length_m / HOUSE_SPACING_M) * 2)
    pairs = (count + 1) // 2
    for number in range(1, count + 1):
        side = 1.0 if number % 2 else -1.0
        fraction = ((number + 1) // 2 - 0.5) / pairs
        lon, lat = road.point(fraction, side * SIDE_OFFSET_M)
        if number % COMPOUND_EVERY == 2:
            yield from _compound(road, number, fraction, side)
            continue
        yield "address", f"{road.name}{number}号", lon, lat
        if number % EXTRA_NUMBER_EVERY == 0:
            lon, lat = road.point(fraction + 0.3 / pairs, side * SIDE_OFFSET_M)
            yield "address", f"{road.name}甲{number}号", lon, lat


def _compound(
    road: Road, number: int, fraction: float, side: float
) -> Iterator[tuple[str, str, float, float]]:
    """A residential compound: its gate, then buildings set back from the road in two rows."""
    gate = f"{road.name}{number}号院"
    lon, lat = road.point(fraction, side * SIDE_OFFSET_M)
    yield "address", gate, lon, lat
    buildings = 2 + (number * 7) % 11
    with_units = (number // COMPOUND_EVERY) % UNITS_EVERY == 0
    for building in range(1, buildings + 1):
        along = fraction + ((building - 1) % 4 - 1.5) * 12.0 / max(road.length_m, 1.0)
        depth = side * (SIDE_OFFSET_M + 25.0 + 25.0 * ((building - 1) // 4))
        lon, lat = road.point(min(max(along, 0.0), 1.0), depth)
        yield "address", f"{gate}{building}号楼", lon, lat
        if with_units:
            for unit in range(1, 2 + building % 4):
                yield "address", f"{gate}{building}号楼{unit}单元", lon, lat


def read_pois(path: Path = DEMO_DATA / "dongcheng_pois.csv") -> list[tuple[str, str, float, float]]:
    with path.open(encoding="utf-8") as file:
        return [
            ("poi", row["name"], float(row["lon"]), float(row["lat"]))
            for row in csv.DictReader(file)
        ]


def demo_place_rows() -> list[PlaceRow]:
    """The demo gazetteer's rows in WGS-84 (the roads' and POIs' GCJ-02 converted)."""
    places = [place for road in read_roads() for place in road_places(road)] + read_pois()
    gcj02 = np.array([(lon, lat) for _, _, lon, lat in places], dtype=np.float64)
    wgs84 = gcj02_to_wgs84(gcj02)
    return [
        PlaceRow(i, name, kind, float(wgs84[i, 0]), float(wgs84[i, 1]))
        for i, (kind, name, _, _) in enumerate(places)
    ]


def load_demo_places(session: Session) -> int:
    """Adds them; returns how many rows it added (0 when already there)."""
    there = session.scalar(
        text("SELECT 1 FROM place WHERE source = :s LIMIT 1"), {"s": DEMO_SOURCE}
    )
    if there is not None:
        return 0
    report = write_places(
        session, demo_place_rows(), district_code=DISTRICT_CODE, source=DEMO_SOURCE, outside="skip"
    )
    return report.added
