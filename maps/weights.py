"""Spatial weights of the grid for Gi* (libpysal `Graph`s) and the cells' heat points, built once
per grid revision.

Queen contiguity (cells sharing an edge or a corner) fits a regular grid. When that leaves a cell
without neighbours (an irregular grid with gaps), a distance band over the cells' centres is used
instead, its threshold the largest nearest-neighbour distance, so every cell has a neighbour.
The full grid's graph is cached in this process per grid revision (like grid.index.CellIndex);
an area's graph is cut from it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from libpysal.graph import Graph
from scipy.spatial import KDTree
from sqlalchemy import text
from sqlalchemy.orm import Session

from grid.revision import grid_revision

KEEP_REVISIONS = 2
METRES_PER_DEGREE = 111_320.0
_cache: dict[str, CellWeights] = {}
_cache_lock = threading.Lock()

IdArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CellWeights:
    """Binary weights over cells (ids in ascending order) and how they were built."""

    weights: Graph
    kind: str  # "queen" or "distance_band"

    @property
    def ids(self) -> IdArray:
        return np.asarray(self.weights.unique_ids, dtype=np.int64)


def build_weights(ids: IdArray, polygons: npt.NDArray[np.object_]) -> CellWeights:
    """Queen contiguity over the cells, or a distance band when queen leaves a cell isolated."""
    order = np.argsort(ids)
    ids, polygons = ids[order], polygons[order]
    if len(ids) == 0:
        return CellWeights(Graph.from_arrays(ids, ids, np.ones(0)), "queen")
    import geopandas

    cells = geopandas.GeoSeries(polygons, index=ids, crs="EPSG:4326")
    queen = Graph.build_contiguity(cells, rook=False)
    if len(ids) == 1 or len(queen.isolates) == 0:
        return CellWeights(queen, "queen")
    return CellWeights(distance_band(ids, polygons), "distance_band")


def distance_band(ids: IdArray, polygons: npt.NDArray[np.object_]) -> Graph:
    """Binary distance-band weights over the cells' centres (local metres), every cell with at
    least one neighbour."""
    centres = shapely.get_coordinates(shapely.centroid(polygons))
    metres = centres * METRES_PER_DEGREE
    metres[:, 0] *= np.cos(np.radians(centres[:, 1].mean()))
    distances, _ = KDTree(metres).query(metres, k=2)  # the nearest other centre
    threshold = max(float(distances[:, 1].max()), 1.0)
    band = Graph.build_distance_band(metres, threshold * 1.0001, binary=True)
    return Graph.from_arrays(
        ids[band.adjacency.index.get_level_values("focal").to_numpy()],
        ids[band.adjacency.index.get_level_values("neighbor").to_numpy()],
        band.adjacency.to_numpy(),
    )


def load_weights(session: Session) -> CellWeights:
    """The weights of every cell in the database."""
    rows = session.execute(text("SELECT id, ST_AsBinary(geom) AS wkb FROM grid_cell")).all()
    ids = np.array([row.id for row in rows], dtype=np.int64)
    polygons = shapely.from_wkb([row.wkb for row in rows]) if rows else np.array([], dtype=object)
    return build_weights(ids, polygons)


def grid_weights(session: Session) -> tuple[CellWeights, bool]:
    """The whole grid's weights at its current revision, and whether they came from the cache."""
    revision = grid_revision(session)
    cached = _cache.get(revision)
    if cached is not None:
        return cached, True
    with _cache_lock:
        cached = _cache.get(revision)
        if cached is not None:
            return cached, True
        built = load_weights(session)
        while len(_cache) >= KEEP_REVISIONS:
            _cache.pop(next(iter(_cache)))
        _cache[revision] = built
    return built, False


def weights_for(session: Session, cell_ids: IdArray) -> tuple[CellWeights, bool]:
    """Weights over exactly `cell_ids` (ascending), cut from the cached grid weights; and whether
    the grid's weights came from the cache."""
    full, cached = grid_weights(session)
    if len(cell_ids) == len(full.ids) and np.array_equal(cell_ids, full.ids):
        return full, cached
    return CellWeights(full.weights.subgraph(cell_ids), full.kind), cached


@dataclass(frozen=True)
class CellPoints:
    """A point on each cell's surface (for the heatmap), cells in ascending id order."""

    ids: IdArray
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]

    def covers(self, cell_ids: IdArray) -> bool:
        """Whether every given cell has a point here."""
        rows = np.minimum(np.searchsorted(self.ids, cell_ids), len(self.ids) - 1)
        return len(self.ids) > 0 and bool(np.array_equal(self.ids[rows], cell_ids))

    def locate(self, cell_ids: IdArray) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(lat, lon) of the given cells' points (all covered)."""
        rows = np.searchsorted(self.ids, cell_ids)
        return self.lat[rows], self.lon[rows]


def load_points(session: Session) -> CellPoints:
    """Every cell's point on surface, computed by PostGIS."""
    rows = session.execute(
        text(
            "SELECT id, ST_Y(p) AS lat, ST_X(p) AS lon FROM "
            "(SELECT id, ST_PointOnSurface(geom) AS p FROM grid_cell) q ORDER BY id"
        )
    ).all()
    return CellPoints(
        ids=np.array([row.id for row in rows], dtype=np.int64),
        lat=np.array([row.lat for row in rows], dtype=np.float64),
        lon=np.array([row.lon for row in rows], dtype=np.float64),
    )


_points: dict[str, CellPoints] = {}


def grid_points(session: Session) -> CellPoints:
    """The cells' points at the grid's current revision, computed once per revision."""
    revision = grid_revision(session)
    points = _points.get(revision)
    if points is None:
        points = load_points(session)
        with _cache_lock:
            while len(_points) >= KEEP_REVISIONS:
                _points.pop(next(iter(_points)))
            _points[revision] = points
    return points


def clear_cache() -> None:
    """Forget every cached graph and point set (the benchmark times a cold build with it)."""
    with _cache_lock:
        _cache.clear()
        _points.clear()
