"""Generating a unit grid for a city that has none (pure).

The boundary is cut into square cells of a given size in metres (in the UTM zone of its centre),
clipped to the boundary; slivers smaller than a fraction of a full cell are merged into the
neighbour they share the longest edge with. Blocks of cells form communities and blocks of
communities form streets. Each level is numbered west→east, north→south (row by row from the
north-west), as Beijing numbers its cells, and gets the standard's codes.

It scales with the number of cells, not with cells × boundary vertices: the grid is cut in bands
of whole street rows (each band also sees two rows either side, so a sliver on a band's edge is
merged exactly as it would be in one piece), and within a band in tiles. Only tiles and cells on
the boundary are clipped, each against the small part of the boundary inside its tile; cells
wholly inside are built as arrays from one lattice of corners converted once to degrees, and a
community or street wholly inside is its block, so only those on the boundary are unions.

Default sizes (`layout_for`): communities of about 0.25 km² (a core Beijing community), streets
sized so a district gets about 15 of them, each 2 to 15 km² (Dongcheng, 42 km², has 17 streets;
an outer district's streets and towns are 10–20 km²), made larger when the code's 999 streets per
district would not suffice.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
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
MAX_BLOCK_SIDE = math.isqrt(MAX_SEQUENCE)  # a block of 31 × 31 children still numbers within 999
BOUNDARY_VERTEX_SPACING_DEG = 0.0005
DEFAULT_CELL_SIZE_M = 100.0
DEFAULT_COMMUNITY_AREA_KM2 = 0.25
STREETS_PER_DISTRICT = 15  # the default street size aims at this many streets …
MIN_STREET_AREA_KM2 = 2.0  # … of at least this size (a core district's streets: 2–4 km²)
MAX_STREET_AREA_KM2 = 15.0  # … and at most this, unless 999 streets would not cover the district
BAND_ROWS = 64  # cell rows per band, rounded to whole street rows: memory is bounded by a band
TILE = 8  # cells per tile side: the boundary is clipped per tile, then per cell
HALO = 2  # rows either side of a band that its slivers' decisions need

Rows = npt.NDArray[np.intp]
Geometries = npt.NDArray[np.object_]


@dataclass(frozen=True)
class GridLayout:
    cell_size_m: float = DEFAULT_CELL_SIZE_M
    community_size: int = 5  # a community is a block of N×N cells
    street_size: int = 3  # a street is a block of N×N communities
    sliver_ratio: float = 0.25  # clipped cells below this share of a full cell are merged

    @property
    def community_area_km2(self) -> float:
        return (self.community_size * self.cell_size_m) ** 2 / 1e6

    @property
    def street_area_km2(self) -> float:
        return self.community_area_km2 * self.street_size**2

    def describe(self) -> str:
        return (
            f"cells of {self.cell_size_m:g} m, communities of {self.community_size}×"
            f"{self.community_size} cells ({self.community_area_km2:.2f} km²), streets of "
            f"{self.street_size}×{self.street_size} communities ({self.street_area_km2:.2f} km²)"
        )


@dataclass(frozen=True)
class GeneratedGrid:
    district: UnitFeature
    streets: list[UnitFeature]
    communities: list[UnitFeature]
    cells: list[UnitFeature]


@dataclass(frozen=True)
class UnitBatch:
    """Units of one level, in code order, in WGS-84."""

    codes: list[str]
    names: list[str]
    parent_codes: list[str]
    geometries: Geometries

    def __len__(self) -> int:
        return len(self.codes)


@dataclass(frozen=True)
class GridBand:
    """The streets of one band (whole street rows), their communities and their cells."""

    streets: UnitBatch
    communities: UnitBatch
    cells: UnitBatch


# ---------------------------------------------------------------------------------------------
# The boundary in metres, and the frame of cells over it


@dataclass(frozen=True)
class _Frame:
    """The cells' lattice: row 0 is the northernmost, column 0 the westernmost."""

    west: float
    north: float
    size: float
    rows: int
    cols: int

    def boxes(
        self, row: Rows, col: Rows, height: Rows | int = 1, width: Rows | int = 1
    ) -> Geometries:
        west = self.west + col * self.size
        north = self.north - row * self.size
        boxes = shapely.box(west, north - height * self.size, west + width * self.size, north)
        return boxes  # type: ignore[no-any-return]

    def box(self, row: int, col: int, height: int, width: int) -> shapely.Geometry:
        west = self.west + col * self.size
        north = self.north - row * self.size
        return shapely.box(west, north - height * self.size, west + width * self.size, north)


@dataclass(frozen=True)
class _Projected:
    boundary_m: shapely.Geometry  # prepared
    to_degrees: Transformer
    frame: _Frame


def _project(boundary: shapely.Geometry, cell_size_m: float) -> _Projected:
    centre = boundary.centroid
    utm = utm_crs_for(centre.x, centre.y)
    to_metres = Transformer.from_crs(WGS84, utm, always_xy=True)
    to_degrees = Transformer.from_crs(utm, WGS84, always_xy=True)
    # A boundary edge straight in lon/lat bends in UTM (and back): densified to ~50 m, clipped
    # cells follow the boundary to millimetres instead of leaving square metres outside it.
    dense_boundary = shapely.segmentize(boundary, BOUNDARY_VERTEX_SPACING_DEG)
    boundary_m = shapely.transform(dense_boundary, lambda xy: _apply(to_metres, xy))
    shapely.prepare(boundary_m)
    min_x, min_y, max_x, max_y = boundary_m.bounds
    cols = int(np.ceil((max_x - min_x) / cell_size_m))
    rows = int(np.ceil((max_y - min_y) / cell_size_m))
    return _Projected(boundary_m, to_degrees, _Frame(min_x, max_y, cell_size_m, rows, cols))


def _apply(transformer: Transformer, xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


# ---------------------------------------------------------------------------------------------
# The district a boundary file describes


@dataclass(frozen=True)
class BoundaryDistrict:
    code: str
    name: str
    geometry: shapely.Geometry  # WGS-84, the union of the file's features
    warning: str | None = None  # said when the name had to fall back to the code


def boundary_district(
    features: list[UnitFeature],
    *,
    code: str | None,
    name: str | None,
    code_field: str,
    name_field: str,
) -> BoundaryDistrict:
    """The district to generate from a boundary file's features: the given code and name win;
    otherwise the file's code and name fields (the same for every feature) are used."""
    geometries = [feature.geometry for feature in features if feature.geometry is not None]
    if not geometries:
        raise InvalidInput("the file holds no readable boundary", field="boundary")
    fields = ", ".join(features[0].attributes) or "none"
    if not code:
        codes = sorted({feature.code for feature in features if feature.code})
        if not codes:
            raise InvalidInput(
                f"give --district-code: the file has no code in field {code_field!r} "
                f"(other fields: {fields}; --code-field names another)",
                field="district_code",
            )
        if len(codes) > 1:
            raise InvalidInput(
                f"the file holds {len(codes)} district codes ({', '.join(codes[:5])}); "
                "give --district-code to generate them as one district",
                field="district_code",
            )
        code = codes[0]
    warning = None
    if not name:
        names = [feature.name for feature in features if feature.name]
        if names:
            name = names[0]
        else:
            name = code
            warning = (
                f"the file has no name in field {name_field!r} (other fields: {fields}): "
                f"the district is named {code}; use --name-field (e.g. name_zh) or --district-name"
            )
    return BoundaryDistrict(code, name, shapely.union_all(geometries), warning)


# ---------------------------------------------------------------------------------------------
# Layout: default sizes


def layout_for(
    boundary: shapely.Geometry,
    *,
    cell_size_m: float = DEFAULT_CELL_SIZE_M,
    community_area_km2: float = DEFAULT_COMMUNITY_AREA_KM2,
    street_area_km2: float | None = None,
    community_size: int | None = None,
    street_size: int | None = None,
    sliver_ratio: float = 0.25,
) -> GridLayout:
    """The layout for a WGS-84 boundary: block sides given in cells/communities win, then areas
    in km²; without a street area the street is sized for the district (see the module's
    docstring) and enlarged until at most 999 street blocks meet the boundary."""
    if cell_size_m <= 0 or not math.isfinite(cell_size_m):
        raise InvalidInput("the cell size must be a positive number of metres", field="cell_size")
    if community_size is None:
        community_size = _side(community_area_km2, cell_size_m / 1000, "community_area")
    _check_side(community_size, "community_size", "cells per community")
    projected = _project(boundary, cell_size_m)
    community_side_km = community_size * cell_size_m / 1000
    if street_size is None and street_area_km2 is not None:
        street_size = _side(street_area_km2, community_side_km, "street_area")
    if street_size is None:
        street_size = _auto_street_size(projected, community_size)
    _check_side(street_size, "street_size", "communities per street")
    return GridLayout(cell_size_m, community_size, street_size, sliver_ratio)


def _side(area_km2: float, unit_side_km: float, option: str) -> int:
    """Blocks of this many units a side come closest to the area (at least one unit)."""
    if area_km2 <= 0 or not math.isfinite(area_km2):
        raise InvalidInput(f"{option} must be a positive area in km²", field=option)
    return max(1, round(math.sqrt(area_km2) / unit_side_km))


def _check_side(side: int, option: str, children: str) -> None:
    if not 1 <= side <= MAX_BLOCK_SIDE:
        raise InvalidInput(
            f"{side}×{side} {children} exceed the code's {MAX_SEQUENCE} "
            f"(at most {MAX_BLOCK_SIDE}×{MAX_BLOCK_SIDE}); use a larger cell or a smaller block",
            field=option,
        )


def _auto_street_size(projected: _Projected, community_size: int) -> int:
    """Streets whose mean area (district area / streets) comes closest to the target, among
    those that keep the district within 999 streets."""
    area_km2 = projected.boundary_m.area / 1e6
    target = min(max(area_km2 / STREETS_PER_DISTRICT, MIN_STREET_AREA_KM2), MAX_STREET_AREA_KM2)
    community_km2 = (community_size * projected.frame.size / 1000) ** 2
    best: tuple[float, int] | None = None
    start = max(1, math.floor(math.sqrt(target / community_km2)) - 1)
    for side in range(start, MAX_BLOCK_SIDE + 1):
        count = street_blocks(projected, community_size * side)
        if count > MAX_SEQUENCE:
            continue
        miss = abs(math.log(area_km2 / count / target)) if area_km2 > 0 else 0.0
        if best is None or miss < best[0]:
            best = (miss, side)
        if area_km2 / count >= target:
            break
    if best is None:
        raise InvalidInput(
            f"even streets of {MAX_BLOCK_SIDE}×{MAX_BLOCK_SIDE} communities leave more than "
            f"{MAX_SEQUENCE} streets in the district; use larger communities or cells",
            field="street_area",
        )
    return best[1]


def street_blocks(projected: _Projected, span: int) -> int:
    """How many blocks of `span` × `span` cells meet the boundary: an upper bound of streets."""
    frame = projected.frame
    block_rows = -(-frame.rows // span)
    block_cols = -(-frame.cols // span)
    row, col = np.divmod(np.arange(block_rows * block_cols), block_cols)
    blocks = frame.boxes(row * span, col * span, span, span)
    return int(np.count_nonzero(shapely.intersects(projected.boundary_m, blocks)))


# ---------------------------------------------------------------------------------------------
# Generation


@dataclass(frozen=True)
class GridPlan:
    """A district's grid, generated band by band (`bands()`), north to south."""

    district: UnitFeature
    layout: GridLayout
    projected: _Projected
    band_rows: int

    @property
    def cell_estimate(self) -> int:
        """About how many cells the grid will have (its area in cells)."""
        return round(float(self.projected.boundary_m.area) / self.layout.cell_size_m**2)

    def bands(self) -> Iterator[GridBand]:
        """Each band's units, in code order; bands without cells are skipped."""
        rows = self.projected.frame.rows
        streets = 0  # numbered so far: the next band's streets follow on
        for first_row in range(0, rows, self.band_rows):
            band = _Band(self, first_row, min(first_row + self.band_rows, rows)).generate(streets)
            if band is not None:
                streets += len(band.streets)
                yield band


def plan_grid(
    boundary: shapely.Geometry, *, district_code: str, district_name: str, layout: GridLayout
) -> GridPlan:
    """Prepare to cut a WGS-84 district boundary into coded streets, communities and cells."""
    if len(district_code) != CODE_LENGTH[GridLevel.DISTRICT] or not district_code.isdigit():
        raise InvalidInput("the district code must be 6 digits", field="district_code")
    _check_side(layout.community_size, "community_size", "cells per community")
    _check_side(layout.street_size, "street_size", "communities per street")
    span = layout.community_size * layout.street_size
    band_rows = span * max(1, round(BAND_ROWS / span))
    district = UnitFeature(index=0, code=district_code, name=district_name, geometry=boundary)
    return GridPlan(district, layout, _project(boundary, layout.cell_size_m), band_rows)


def generate_grid(
    boundary: shapely.Geometry, *, district_code: str, district_name: str, layout: GridLayout
) -> GeneratedGrid:
    """Cut a WGS-84 district boundary into coded streets, communities and cells (in memory:
    for a small district; `plan_grid(...).bands()` streams a large one)."""
    plan = plan_grid(
        boundary, district_code=district_code, district_name=district_name, layout=layout
    )
    streets: list[UnitFeature] = []
    communities: list[UnitFeature] = []
    cells: list[UnitFeature] = []
    for band in plan.bands():
        for batch, features in (
            (band.streets, streets),
            (band.communities, communities),
            (band.cells, cells),
        ):
            features.extend(
                UnitFeature(index=len(features) + n, code=code, name=name, geometry=geometry)
                for n, (code, name, geometry) in enumerate(
                    zip(batch.codes, batch.names, batch.geometries, strict=True)
                )
            )
    return GeneratedGrid(plan.district, streets, communities, cells)


FULL, CLIPPED = 1, 2


class _Band:
    """Rows [first_row, stop_row) of the grid, cut and coded; rows up to HALO beyond each edge
    are cut too, for the slivers on the band's edges."""

    def __init__(self, plan: GridPlan, first_row: int, stop_row: int) -> None:
        self.plan = plan
        self.frame = plan.projected.frame
        self.first_row, self.stop_row = first_row, stop_row
        self.top = max(first_row - HALO, 0)  # first row cut
        self.bottom = min(stop_row + HALO, self.frame.rows)  # row after the last cut
        shape = (self.bottom - self.top, self.frame.cols)
        self.state = np.zeros(shape, dtype=np.int8)  # 0 outside, FULL, CLIPPED
        self.clipped = np.full(shape, None, dtype=object)  # clipped cells, in metres

    def generate(self, streets_before: int) -> GridBand | None:
        """The band's units (its streets numbered after `streets_before`), or None when it
        has no cell."""
        if not self._cut():
            return None
        rows, cols, geometries = self._merged_cells()
        if len(rows) == 0:
            return None
        return self._assemble(rows, cols, geometries, streets_before)

    # -- cutting ---------------------------------------------------------------------------

    def _cut(self) -> bool:
        """Mark cells wholly inside as FULL and clip the cells on the boundary; False when the
        band holds no part of the boundary."""
        frame, boundary = self.frame, self.plan.projected.boundary_m
        height = self.bottom - self.top
        piece = shapely.intersection(boundary, frame.box(self.top, 0, height, frame.cols))
        if piece.is_empty:
            return False
        tile_row, tile_col = (
            grid.ravel()
            for grid in np.meshgrid(
                np.arange(self.top, self.bottom, TILE),
                np.arange(0, frame.cols, TILE),
                indexing="ij",
            )
        )
        tile_height = np.minimum(TILE, self.bottom - tile_row)
        tile_width = np.minimum(TILE, frame.cols - tile_col)
        tiles = frame.boxes(tile_row, tile_col, tile_height, tile_width)
        meets = shapely.intersects(boundary, tiles)
        inside = np.zeros(len(tiles), dtype=bool)
        inside[meets] = shapely.contains_properly(boundary, tiles[meets])
        for row, col, h, w in zip(
            tile_row[inside], tile_col[inside], tile_height[inside], tile_width[inside], strict=True
        ):
            self.state[row - self.top : row - self.top + h, col : col + w] = FULL
        on_edge = meets & ~inside
        if on_edge.any():
            self._clip_tiles(
                piece,
                tile_row[on_edge],
                tile_col[on_edge],
                tile_height[on_edge],
                tile_width[on_edge],
            )
        return True

    def _clip_tiles(
        self, piece: shapely.Geometry, tile_row: Rows, tile_col: Rows, heights: Rows, widths: Rows
    ) -> None:
        """Cells of the tiles on the boundary: wholly inside, clipped, or outside."""
        frame, boundary = self.frame, self.plan.projected.boundary_m
        tile_pieces = shapely.intersection(piece, frame.boxes(tile_row, tile_col, heights, widths))
        cell_rows, cell_cols, owners = [], [], []
        for tile, (row, col, h, w) in enumerate(
            zip(
                tile_row.tolist(), tile_col.tolist(), heights.tolist(), widths.tolist(), strict=True
            )
        ):
            r, c = np.divmod(np.arange(h * w), w)
            cell_rows.append(r + row)
            cell_cols.append(c + col)
            owners.append(np.full(h * w, tile))
        row_index, col_index = np.concatenate(cell_rows), np.concatenate(cell_cols)
        owner = np.concatenate(owners)
        squares = frame.boxes(row_index, col_index)
        meets = shapely.intersects(boundary, squares)
        inside = np.zeros(len(squares), dtype=bool)
        inside[meets] = shapely.contains_properly(boundary, squares[meets])
        self.state[row_index[inside] - self.top, col_index[inside]] = FULL
        edge = meets & ~inside
        clipped = shapely.intersection(squares[edge], tile_pieces[owner[edge]])
        polygonal = shapely.get_type_id(clipped) >= 0
        areas = np.where(polygonal, shapely.area(clipped), 0.0)
        keep = areas > 0
        rows, cols = row_index[edge][keep] - self.top, col_index[edge][keep]
        self.state[rows, cols] = CLIPPED
        self.clipped[rows, cols] = [_polygonal_part(g) for g in clipped[keep]]

    # -- slivers ---------------------------------------------------------------------------

    def _merged_cells(self) -> tuple[Rows, Rows, Geometries]:
        """The band's cells (rows, columns, geometries in metres), slivers merged into the
        full neighbour they share the longest edge with."""
        full_area = self.frame.size**2
        sliver = np.zeros(self.state.shape, dtype=bool)
        clipped_at = np.nonzero(self.state == CLIPPED)
        sliver[clipped_at] = (
            shapely.area(self.clipped[clipped_at]) < self.plan.layout.sliver_ratio * full_area
        )
        # Slivers deciding: those of the band and of one row either side (hosts may be in it).
        lo = max(self.first_row - 1, self.top) - self.top
        hi = min(self.stop_row + 1, self.bottom) - self.top
        s_rows, s_cols = np.nonzero(sliver[lo:hi])
        s_rows = s_rows + lo
        host_row, host_col = self._hosts(s_rows, s_cols, sliver)
        hosted = host_row >= 0
        band_lo, band_hi = self.first_row - self.top, self.stop_row - self.top
        # A sliver with a host is not a cell of its own; it joins its host if that is ours.
        kept = self.state.copy()
        kept[s_rows[hosted], s_cols[hosted]] = 0
        kept[:band_lo] = 0
        kept[band_hi:] = 0
        rows, cols = np.nonzero(kept)
        geometries = np.full(len(rows), None, dtype=object)
        is_clipped = kept[rows, cols] == CLIPPED
        geometries[is_clipped] = self.clipped[rows[is_clipped], cols[is_clipped]]
        ours = hosted & (host_row >= band_lo) & (host_row < band_hi)
        if ours.any():
            self._absorb(
                rows, cols, geometries, s_rows[ours], s_cols[ours], host_row[ours], host_col[ours]
            )
        return rows + self.top, cols, geometries

    def _hosts(
        self, s_rows: Rows, s_cols: Rows, sliver: npt.NDArray[np.bool_]
    ) -> tuple[Rows, Rows]:
        """Each sliver's host (row, column within the band), or -1 when it has none."""
        shared = np.zeros((len(s_rows), 4))
        geometries = self.clipped[s_rows, s_cols]
        height, width = self.state.shape
        for direction, (d_row, d_col) in enumerate(((-1, 0), (1, 0), (0, -1), (0, 1))):
            n_rows, n_cols = s_rows + d_row, s_cols + d_col
            inside = (n_rows >= 0) & (n_rows < height) & (n_cols >= 0) & (n_cols < width)
            candidate = np.flatnonzero(inside)
            r, c = n_rows[candidate], n_cols[candidate]
            usable = (self.state[r, c] != 0) & ~sliver[r, c]
            candidate, r, c = candidate[usable], r[usable], c[usable]
            neighbours = self.clipped[r, c]
            full = self.state[r, c] == FULL
            neighbours[full] = self.frame.boxes(r[full] + self.top, c[full])
            lengths = shapely.length(shapely.intersection(geometries[candidate], neighbours))
            shared[candidate, direction] = lengths
        best = np.argmax(shared, axis=1)  # the first of equal lengths: up, down, left, right
        has_host = shared[np.arange(len(s_rows)), best] > 0
        offsets = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)])[best]
        host_row = np.where(has_host, s_rows + offsets[:, 0], -1)
        host_col = np.where(has_host, s_cols + offsets[:, 1], -1)
        return host_row, host_col

    def _absorb(
        self,
        rows: Rows,
        cols: Rows,
        geometries: Geometries,
        s_rows: Rows,
        s_cols: Rows,
        host_rows: Rows,
        host_cols: Rows,
    ) -> None:
        """Replace each host's geometry by its union with the slivers it takes in."""
        position = np.full(self.state.shape, -1, dtype=np.intp)  # of each kept cell in `rows`
        position[rows, cols] = np.arange(len(rows))
        taken: dict[int, list[shapely.Geometry]] = {}
        hosts = position[host_rows, host_cols].tolist()
        for host, s_row, s_col in zip(hosts, s_rows.tolist(), s_cols.tolist(), strict=True):
            taken.setdefault(host, []).append(self.clipped[s_row, s_col])
        for n, slivers in taken.items():
            host = geometries[n]
            if host is None:
                host = self.frame.box(int(rows[n]) + self.top, int(cols[n]), 1, 1)
            geometries[n] = shapely.union_all([host, *slivers])

    # -- codes and shapes ------------------------------------------------------------------

    def _assemble(
        self, rows: Rows, cols: Rows, metres: Geometries, streets_before: int
    ) -> GridBand:
        """Code the cells (sorted by street, community, row, column: the codes' order) and
        shape the communities and streets."""
        layout = self.plan.layout
        c_size, span = layout.community_size, layout.community_size * layout.street_size
        order = np.lexsort((cols, rows, cols // c_size, rows // c_size, cols // span, rows // span))
        rows, cols, metres = rows[order], cols[order], metres[order]
        street_of_cell = _group_starts(rows // span, cols // span)
        community_of_cell = _group_starts(rows // c_size, cols // c_size) | street_of_cell
        street_starts = np.flatnonzero(street_of_cell)  # first cell of each street
        community_starts = np.flatnonzero(community_of_cell)  # first cell of each community
        street_numbers = streets_before + 1 + np.arange(len(street_starts))
        if street_numbers[-1] > MAX_SEQUENCE:
            raise InvalidInput(
                f"more than {MAX_SEQUENCE} streets in one district exceed the code; "
                "use larger streets",
                field="street_area",
            )
        # Numbers within the parent: a community's rank in its street, a cell's in its community.
        street_of_community = np.cumsum(street_of_cell)[community_starts] - 1
        first_community_of_street = np.flatnonzero(street_of_cell[community_starts])
        community_numbers = (
            np.arange(len(community_starts)) - first_community_of_street[street_of_community] + 1
        )
        community_of = np.cumsum(community_of_cell) - 1
        cell_numbers = np.arange(len(rows)) - community_starts[community_of] + 1

        district_code = str(self.plan.district.code)
        street_codes = [f"{district_code}{n:03d}" for n in street_numbers.tolist()]
        street_names = [f"第{n}街道" for n in street_numbers.tolist()]
        community_codes, community_names = [], []
        for street, number in zip(
            street_of_community.tolist(), community_numbers.tolist(), strict=True
        ):
            community_codes.append(f"{street_codes[street]}{number:03d}")
            community_names.append(f"{street_names[street]}第{number}社区")
        cell_codes = [
            f"{community_codes[k]}{n:03d}"
            for k, n in zip(community_of.tolist(), cell_numbers.tolist(), strict=True)
        ]

        lattice = self._lattice()
        full = np.array([geometry is None for geometry in metres], dtype=bool)
        cells = self._cell_shapes(rows, cols, metres, full, lattice)
        communities, whole = _block_shapes(
            cells,
            community_starts,
            full,
            rows[community_starts] // c_size * c_size - self.first_row,
            cols[community_starts] // c_size * c_size,
            c_size,
            c_size**2,
            lattice,
        )
        streets, _ = _block_shapes(
            communities,
            first_community_of_street,
            whole,
            rows[street_starts] // span * span - self.first_row,
            cols[street_starts] // span * span,
            span,
            layout.street_size**2,
            lattice,
        )
        return GridBand(
            streets=UnitBatch(
                street_codes, street_names, [district_code] * len(street_codes), streets
            ),
            communities=UnitBatch(
                community_codes, community_names, [c[:9] for c in community_codes], communities
            ),
            cells=UnitBatch(cell_codes, cell_codes, [c[:12] for c in cell_codes], cells),
        )

    def _lattice(self) -> npt.NDArray[np.float64]:
        """The band's cell corners in degrees: shape (rows + 1, cols + 1, 2)."""
        frame = self.frame
        x = frame.west + np.arange(frame.cols + 1) * frame.size
        y = frame.north - np.arange(self.first_row, self.stop_row + 1) * frame.size
        xx, yy = np.meshgrid(x, y)
        lon, lat = self.plan.projected.to_degrees.transform(xx.ravel(), yy.ravel())
        return np.stack([lon, lat], axis=-1).reshape(*xx.shape, 2)

    def _cell_shapes(
        self,
        rows: Rows,
        cols: Rows,
        metres: Geometries,
        full: npt.NDArray[np.bool_],
        lattice: npt.NDArray[np.float64],
    ) -> Geometries:
        """Cells in degrees: full squares from the lattice, the others converted."""
        cells = np.full(len(rows), None, dtype=object)
        cells[full] = _block_polygons(lattice, rows[full] - self.first_row, cols[full], 1)
        to_degrees = self.plan.projected.to_degrees
        converted = shapely.transform(metres[~full], lambda xy: _apply(to_degrees, xy))
        cells[~full] = _valid(converted)
        return cells


def _group_starts(*keys: Rows) -> npt.NDArray[np.bool_]:
    """True where a run of equal keys (sorted) begins."""
    starts = np.zeros(len(keys[0]), dtype=bool)
    if len(starts):
        starts[0] = True
        for key in keys:
            starts[1:] |= key[1:] != key[:-1]
    return starts


def _block_shapes(
    children: Geometries,
    starts: Rows,
    children_whole: npt.NDArray[np.bool_],
    corner_rows: Rows,
    corner_cols: Rows,
    side: int,
    children_per_block: int,
    lattice: npt.NDArray[np.float64],
) -> tuple[Geometries, npt.NDArray[np.bool_]]:
    """Blocks of `side` × `side` cells (north-west corners in the band's lattice), each made of
    the children from its start to the next block's: a whole block (every child there, each
    whole) is its square from the lattice, any other the union of its children. Returns the
    shapes and which blocks are whole."""
    counts = np.diff(np.append(starts, len(children)))
    whole_children = np.add.reduceat(children_whole.astype(np.intp), starts)
    whole = (counts == children_per_block) & (whole_children == counts)
    shapes = np.full(len(starts), None, dtype=object)
    if whole.any():
        shapes[whole] = _block_polygons(lattice, corner_rows[whole], corner_cols[whole], side)
    ends = starts + counts
    for block in np.flatnonzero(~whole).tolist():
        union = shapely.union_all(children[starts[block] : ends[block]])
        shapes[block] = _valid(np.array([_polygonal_part(union)], dtype=object))[0]
    return shapes, whole


def _block_polygons(
    lattice: npt.NDArray[np.float64], rows: Rows, cols: Rows, side: int
) -> Geometries:
    """Squares of `side` cells with north-west corners at lattice (rows, cols), with a vertex at
    every cell corner along their edges (so they share their cells' vertices), anticlockwise."""
    steps = np.arange(side)
    d_row = np.concatenate([steps, np.full(side, side), side - steps, np.zeros(side, int), [0]])
    d_col = np.concatenate([np.zeros(side, int), steps, np.full(side, side), side - steps, [0]])
    ring = lattice[rows[:, None] + d_row[None, :], cols[:, None] + d_col[None, :]]
    return shapely.polygons(ring)  # type: ignore[no-any-return]


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    """Clipping may leave stray lines or points along the boundary; keep only the area."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [part for part in shapely.get_parts(geometry) if part.geom_type == "Polygon"]
    return shapely.multipolygons(parts)


def _valid(geometries: Geometries) -> Geometries:
    """Converting a clipped cell to degrees can, very rarely, fold a hair-thin part over;
    such a geometry is repaired (its area kept)."""
    invalid = ~shapely.is_valid(geometries)
    if invalid.any():
        geometries = geometries.copy()
        geometries[invalid] = [_polygonal_part(shapely.make_valid(g)) for g in geometries[invalid]]
    return geometries
