"""An in-process spatial index of the cells, for bulk geolocation.

PostGIS answers one point at a time well; for thousands to millions of points an STRtree of the
cells' prepared polygons in this process is far faster than a join (see bench/locate.py). The index
belongs to a grid revision and is rebuilt when the grid changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from grid.geometry import Coordinates

# A cell with the units above it: the columns a located point answers with, whether the index
# or PostGIS (grid.service.LOCATE_POINTS) located it.
UNITS_OF_CELL = """
    SELECT c.code AS cell_code, c.name AS cell_name, c.area_m2,
           m.code AS community_code, m.name AS community_name,
           s.code AS street_code, s.name AS street_name,
           d.code AS district_code, d.name AS district_name
    FROM grid_cell c
    JOIN grid_region m ON m.id = c.community_id
    JOIN grid_region s ON s.id = m.parent_id
    JOIN grid_region d ON d.id = s.parent_id
"""
KEEP_REVISIONS = 2
_cache: dict[str, CellIndex] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class CellIndex:
    """Cells in code order, their prepared polygons, and an STRtree over them."""

    units: list[Row[Any]]
    polygons: npt.NDArray[np.object_]
    tree: shapely.STRtree

    @classmethod
    def load(cls, session: Session) -> CellIndex:
        rows = session.execute(
            text(
                f"SELECT q.*, ST_AsBinary(g.geom) AS wkb FROM ({UNITS_OF_CELL}) q "
                "JOIN grid_cell g ON g.code = q.cell_code ORDER BY q.cell_code"
            )
        ).all()
        polygons = (
            shapely.from_wkb([row.wkb for row in rows]) if rows else np.array([], dtype=object)
        )
        shapely.prepare(polygons)
        return cls(units=list(rows), polygons=polygons, tree=shapely.STRtree(polygons))

    def locate(self, wgs84: Coordinates) -> npt.NDArray[np.int64]:
        """Row of the containing cell for each point (lowest code on shared edges), -1 if none."""
        found = np.full(len(wgs84), np.iinfo(np.int64).max, dtype=np.int64)
        if len(self.units) == 0 or len(wgs84) == 0:
            return np.full(len(wgs84), -1, dtype=np.int64)
        points = shapely.points(wgs84)
        point_rows, cell_rows = self.tree.query(points)  # bounding boxes only
        inside = shapely.intersects(self.polygons[cell_rows], points[point_rows])
        # Rows are in code order, so the smallest row among a point's cells is the lowest code.
        np.minimum.at(found, point_rows[inside], cell_rows[inside])
        found[found == np.iinfo(np.int64).max] = -1
        return found


def cell_index_for(session: Session, revision: str) -> CellIndex:
    """The index of the grid at `revision`, built on first use."""
    index = _cache.get(revision)
    if index is not None:
        return index
    with _cache_lock:
        index = _cache.get(revision)
        if index is None:
            index = CellIndex.load(session)
            while len(_cache) >= KEEP_REVISIONS:
                _cache.pop(next(iter(_cache)))
            _cache[revision] = index
    return index
