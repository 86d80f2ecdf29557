"""Generating a unit grid for a city that has none (pure).

The boundary is cut into square cells of a given size in metres (in the UTM zone of its centre),
clipped to the boundary; slivers smaller than a fraction of a full cell are merged into the
neighbour they share the longest edge with. Blocks of cells form communities and blocks of
communities form streets. Each level is numbered west→east, north→south (row by row from the
north-west), as Beijing numbers its cells, and gets the standard's codes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

from citygrid.errors import InvalidInput
from grid.codes import CODE_LENGTH, GridLevel
from grid.geometry import WGS84, utm_crs_for
from grid.imports import UnitFeature

MAX_SEQUENCE = 999  # three digits per level
BOUNDARY_VERTEX_SPACING_DEG = 0.0005


@dataclass(frozen=True)
class GridLayout:
    cell_size_m: float = 100.0
    community_size: int = 5  # a community is a block of N×N cells
    street_size: int = 3  # a street is a block of N×N communities
    sliver_ratio: float = 0.25  # clipped cells below this share of a full cell are merged


@dataclass(frozen=True)
class GeneratedGrid:
    district: UnitFeature
    streets: list[UnitFeature]
    communities: list[UnitFeature]
    cells: list[UnitFeature]


@dataclass(frozen=True)
class _Cell:
    row: int  # 0 is the northernmost row
    col: int  # 0 is the westernmost column
    geometry: shapely.Geometry  # metres


def generate_grid(
    boundary: shapely.Geometry, *, district_code: str, district_name: str, layout: GridLayout
) -> GeneratedGrid:
    """Cut a WGS-84 district boundary into coded streets, communities and cells."""
    if len(district_code) != CODE_LENGTH[GridLevel.DISTRICT] or not district_code.isdigit():
        raise InvalidInput("the district code must be 6 digits", field="district_code")
    centre = boundary.centroid
    to_metres = Transformer.from_crs(WGS84, utm_crs_for(centre.x, centre.y), always_xy=True)
    to_degrees = Transformer.from_crs(utm_crs_for(centre.x, centre.y), WGS84, always_xy=True)
    # A boundary edge straight in lon/lat bends in UTM (and back): densified to ~50 m, clipped
    # cells follow the boundary to millimetres instead of leaving square metres outside it.
    dense_boundary = shapely.segmentize(boundary, BOUNDARY_VERTEX_SPACING_DEG)
    boundary_m = shapely.transform(dense_boundary, lambda xy: _apply(to_metres, xy))
    cells = _merge_slivers(_clip_squares(boundary_m, layout.cell_size_m), layout)

    def degrees(geometry: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(geometry, lambda xy: _apply(to_degrees, xy))

    return _assemble(cells, boundary, district_code, district_name, layout, degrees)


def _apply(transformer: Transformer, xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def _clip_squares(boundary_m: shapely.Geometry, size: float) -> list[_Cell]:
    """Squares of `size` metres over the boundary's extent, clipped to it; empty ones dropped."""
    min_x, min_y, max_x, max_y = boundary_m.bounds
    cols = int(np.ceil((max_x - min_x) / size))
    rows = int(np.ceil((max_y - min_y) / size))
    row_index, col_index = np.divmod(np.arange(rows * cols), cols)
    west = min_x + col_index * size
    north = max_y - row_index * size
    squares = shapely.box(west, north - size, west + size, north)
    shapely.prepare(boundary_m)
    touching = shapely.intersects(boundary_m, squares)
    inside = shapely.contains_properly(boundary_m, squares)
    clipped = np.where(inside, squares, shapely.intersection(squares, boundary_m))
    polygonal = shapely.get_type_id(clipped) >= 0
    areas = shapely.area(clipped)
    keep = touching & polygonal & (areas > 0)
    return [
        _Cell(int(row), int(col), _polygonal_part(geometry))
        for row, col, geometry in zip(row_index[keep], col_index[keep], clipped[keep], strict=True)
    ]


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    """Clipping may leave stray lines or points along the boundary; keep only the area."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [part for part in shapely.get_parts(geometry) if part.geom_type == "Polygon"]
    return shapely.multipolygons(parts)


def _merge_slivers(cells: list[_Cell], layout: GridLayout) -> list[_Cell]:
    """Merge each sliver into the full neighbour it shares the longest edge with."""
    full_area = layout.cell_size_m**2
    by_position = {(cell.row, cell.col): cell for cell in cells}
    is_sliver = {
        key: cell.geometry.area < layout.sliver_ratio * full_area
        for key, cell in by_position.items()
    }
    absorbed: dict[tuple[int, int], list[shapely.Geometry]] = defaultdict(list)
    for key, cell in by_position.items():
        if not is_sliver[key]:
            continue
        host = _best_host(cell, by_position, is_sliver)
        if host is not None:
            absorbed[host].append(cell.geometry)
            is_sliver[key] = False  # consumed: it no longer stands as a cell of its own
            by_position[key] = _Cell(cell.row, cell.col, shapely.Polygon())
    merged = []
    for key, cell in by_position.items():
        if cell.geometry.is_empty:
            continue
        if key in absorbed:
            cell = _Cell(cell.row, cell.col, shapely.union_all([cell.geometry, *absorbed[key]]))
        merged.append(cell)
    return merged


def _best_host(
    sliver: _Cell, by_position: dict[tuple[int, int], _Cell], is_sliver: dict[tuple[int, int], bool]
) -> tuple[int, int] | None:
    best: tuple[float, tuple[int, int]] | None = None
    for d_row, d_col in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        key = (sliver.row + d_row, sliver.col + d_col)
        neighbour = by_position.get(key)
        if neighbour is None or is_sliver[key] or neighbour.geometry.is_empty:
            continue
        shared = shapely.length(shapely.intersection(sliver.geometry, neighbour.geometry))
        if shared > 0 and (best is None or shared > best[0]):
            best = (float(shared), key)
    return None if best is None else best[1]


def _row_major(keys: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Sequence numbers 1, 2, … west→east along each row, rows north→south."""
    numbered = {key: number for number, key in enumerate(sorted(keys), start=1)}
    if len(numbered) > MAX_SEQUENCE:
        raise InvalidInput(
            f"{len(numbered)} units in one parent exceed the code's {MAX_SEQUENCE}; "
            "use larger communities or streets",
            field="layout",
        )
    return numbered


def _assemble(
    cells: list[_Cell],
    boundary: shapely.Geometry,
    district_code: str,
    district_name: str,
    layout: GridLayout,
    degrees: Callable[[shapely.Geometry], shapely.Geometry],
) -> GeneratedGrid:
    community_span = layout.community_size
    street_span = layout.community_size * layout.street_size
    street_numbers = _row_major({(c.row // street_span, c.col // street_span) for c in cells})
    cells_by_community: dict[tuple[int, int], list[_Cell]] = defaultdict(list)
    for cell in cells:
        cells_by_community[(cell.row // community_span, cell.col // community_span)].append(cell)
    communities_by_street: dict[tuple[int, int], set[tuple[int, int]]] = defaultdict(set)
    for block in cells_by_community:
        street_key = (block[0] // layout.street_size, block[1] // layout.street_size)
        communities_by_street[street_key].add(block)

    streets: list[UnitFeature] = []
    communities: list[UnitFeature] = []
    coded_cells: list[UnitFeature] = []
    for street_key, street_number in sorted(street_numbers.items(), key=lambda item: item[1]):
        street_code = f"{district_code}{street_number:03d}"
        blocks = communities_by_street[street_key]
        street_area_m = [cell.geometry for block in blocks for cell in cells_by_community[block]]
        streets.append(
            _feature(
                len(streets),
                street_code,
                f"第{street_number}街道",
                degrees(shapely.union_all(street_area_m)),
            )
        )
        for block, community_number in sorted(_row_major(blocks).items(), key=lambda item: item[1]):
            community_code = f"{street_code}{community_number:03d}"
            members = cells_by_community[block]
            name = f"第{street_number}街道第{community_number}社区"
            union = shapely.union_all([cell.geometry for cell in members])
            communities.append(_feature(len(communities), community_code, name, degrees(union)))
            numbers = _row_major({(cell.row, cell.col) for cell in members})
            for cell in sorted(members, key=lambda c: (c.row, c.col)):
                code = f"{community_code}{numbers[(cell.row, cell.col)]:03d}"
                coded_cells.append(_feature(len(coded_cells), code, code, degrees(cell.geometry)))
    district = _feature(0, district_code, district_name, boundary)
    return GeneratedGrid(district, streets, communities, coded_cells)


def _feature(index: int, code: str, name: str, geometry: shapely.Geometry) -> UnitFeature:
    return UnitFeature(index=index, code=code, name=name, geometry=geometry)
