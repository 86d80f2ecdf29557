"""Where a map page's points and outlines lie, kept small enough to draw (pure): heat points
merged on ever coarser bins, base outlines without their finest levels, and the bounds a map
fits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

COORDINATE_DECIMALS = 5  # about 1 m: finer digits only make the page bigger
HEAT_POINTS_MAX = 20_000  # ~30 bytes each; beyond this, points are merged on a coarser grid
OUTLINE_POSITIONS_MAX = 25_000  # ~20 bytes each: the base outlines stay under ~0.5 MB
OUTLINE_LEVELS_FINEST_FIRST = ("community", "street")
HEAT_BIN_START_DEG = 0.0005


def coarsened_heat_points(
    points: Sequence[tuple[float, float, float]], *, max_points: int = HEAT_POINTS_MAX
) -> list[list[float]]:
    """Heat points as [lat, lon, intensity 0..1], merged on ever coarser bins until few enough."""
    if not points:
        return []
    array = np.asarray(points, dtype=float)
    bin_deg = HEAT_BIN_START_DEG
    while len(array) > max_points:
        array = _merged_on_bins(array, bin_deg)
        bin_deg *= 1.5
    array[:, :2] = array[:, :2].round(COORDINATE_DECIMALS)
    array[:, 2] = (array[:, 2] / (array[:, 2].max() or 1.0)).round(3)
    rows: list[list[float]] = array.tolist()
    return rows


def _merged_on_bins(array: np.ndarray[Any, Any], bin_deg: float) -> np.ndarray[Any, Any]:
    """Points summed per bin of bin_deg degrees, placed at their weighted centre."""
    rows = np.floor(array[:, 0] / bin_deg).astype(np.int64)
    columns = np.floor(array[:, 1] / bin_deg).astype(np.int64)
    keys = (rows - rows.min()) * (int(columns.max() - columns.min()) + 1) + columns - columns.min()
    _, bin_of_point = np.unique(keys, return_inverse=True)
    weights = np.bincount(bin_of_point, weights=array[:, 2])
    safe = np.where(weights > 0, weights, 1.0)
    lat = np.bincount(bin_of_point, weights=array[:, 0] * array[:, 2]) / safe
    lon = np.bincount(bin_of_point, weights=array[:, 1] * array[:, 2]) / safe
    return np.column_stack([lat, lon, weights])


def trimmed_outlines(
    outlines: dict[str, Any], *, max_positions: int = OUTLINE_POSITIONS_MAX
) -> tuple[dict[str, Any], list[str]]:
    """The base outlines without their finest levels while they have too many vertices, and
    which levels were left out."""
    features = list(outlines.get("features", []))
    dropped: list[str] = []
    for level in OUTLINE_LEVELS_FINEST_FIRST:
        if sum(position_count(f.get("geometry")) for f in features) <= max_positions:
            break
        features = [f for f in features if f["properties"].get("level") != level]
        dropped.append(level)
    return {"type": "FeatureCollection", "features": features}, dropped


def position_count(geometry: dict[str, Any] | None) -> int:
    """How many coordinate pairs a GeoJSON geometry has."""
    return 0 if not geometry else sum(1 for _ in _positions(geometry["coordinates"]))


def padded(bounds: list[list[float]], margin_deg: float = 0.001) -> list[list[float]]:
    """Bounds widened a little, so a single point (zero size) still gives a finite zoom."""
    (south, west), (north, east) = bounds
    return [[south - margin_deg, west - margin_deg], [north + margin_deg, east + margin_deg]]


def outline_bounds(collection: dict[str, Any] | None) -> list[list[float]] | None:
    """[[south, west], [north, east]] of a FeatureCollection, None when it is empty."""
    if not collection:
        return None
    lons: list[float] = []
    lats: list[float] = []
    for feature in collection.get("features", []):
        geometry = feature.get("geometry")
        if geometry:
            flat = np.asarray(list(_positions(geometry["coordinates"])), dtype=float)
            lons.extend((float(flat[:, 0].min()), float(flat[:, 0].max())))
            lats.extend((float(flat[:, 1].min()), float(flat[:, 1].max())))
    if not lons:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def _positions(coordinates: Any) -> Iterable[list[float]]:
    if coordinates and isinstance(coordinates[0], int | float):
        yield coordinates
        return
    for part in coordinates:
        yield from _positions(part)


def bounds_of_points(points: Sequence[Sequence[float]]) -> list[list[float]] | None:
    """[[south, west], [north, east]] of [lat, lon, …] points, None when there are none."""
    if not points:
        return None
    array = np.asarray([point[:2] for point in points], dtype=float)
    return [array.min(axis=0).tolist(), array.max(axis=0).tolist()]
