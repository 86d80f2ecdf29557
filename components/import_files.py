"""Reading a component file: GeoJSON, GeoPackage, Shapefile, or CSV with lon/lat columns.

The file is read column by column with pyogrio and numpy and converted to WGS-84 as the grid
import does; the rows are then checked and written by `components.imports`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from citygrid.errors import InvalidInput
from grid import import_toolkit as toolkit
from grid.geometry import WGS84, converter_to_wgs84, normalise_crs_name
from grid.import_toolkit import field_text

TEXT_FIELDS = ("code", "category", "status", "name", "address", "owner", "supervisor", "maintainer")
DEFAULT_POINT_COLUMNS = (("lon", "lat"), ("x", "y"))
FORMAT_OF_SUFFIX = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "Shapefile",
    ".zip": "Shapefile",
    ".csv": "CSV",
}


@dataclass(frozen=True)
class PointColumns:
    """The CSV columns holding the coordinates; None: lon/lat, else x/y."""

    lon: str | None = None
    lat: str | None = None


@dataclass
class ComponentTable:
    """The rows of a file column by column, geometries in WGS-84."""

    source_name: str
    source_format: str
    source_crs: str
    texts: dict[str, list[str | None]]  # the TEXT_FIELDS as read; only codes are trimmed yet
    attributes: dict[str, npt.NDArray[Any]]  # every other column, as read
    geometries: npt.NDArray[np.object_]  # shapely geometries; None when missing or unreadable
    geometry_reasons: dict[int, str] = field(default_factory=dict)  # rows that cannot be staged

    def __len__(self) -> int:
        return len(self.geometries)


def source_format(path: Path) -> str:
    """GeoJSON, GPKG, Shapefile or CSV, by the file's suffix."""
    found = FORMAT_OF_SUFFIX.get(path.suffix.lower())
    if found is None:
        accepted = ", ".join(FORMAT_OF_SUFFIX)
        raise InvalidInput(
            f"{path.name}: unknown format; use a file ending in {accepted}", field="file"
        )
    return found


def read_components(
    path: Path,
    *,
    crs: str | None,
    point_columns: PointColumns = PointColumns(),
    encoding: str | None = None,
) -> ComponentTable:
    """The rows of a GeoJSON, GeoPackage, Shapefile or CSV file, converted to WGS-84; text read
    as UTF-8 unless `encoding` names another (text that is not is refused, naming the encoding
    it seems to be in: see grid.file_encoding)."""
    toolkit.check_crs(crs)
    file_format = source_format(path)
    if file_format == "CSV":
        return _read_csv(path, crs=crs or WGS84, point_columns=point_columns, encoding=encoding)
    layer = toolkit.read_layer(path, encoding=encoding)
    source_crs = normalise_crs_name(crs) if crs else toolkit.file_crs(layer.declared_crs)
    geometries = toolkit.layer_geometries(layer, source_crs)
    return _table(path, file_format, source_crs, dict(layer.columns), geometries, {})


def _read_csv(
    path: Path, *, crs: str, point_columns: PointColumns, encoding: str | None
) -> ComponentTable:
    """A CSV's rows (every value read as text) with points made from its coordinate columns."""
    columns = toolkit.read_columns(path, encoding=encoding)
    lon_name, lat_name = _coordinate_columns(list(columns), point_columns)
    lons, lon_reasons = _numbers(columns.pop(lon_name), lon_name)
    lats, lat_reasons = _numbers(columns.pop(lat_name), lat_name)
    with np.errstate(all="ignore"):
        wgs84 = converter_to_wgs84(crs)(np.column_stack([lons, lats]))
    geometries = shapely.points(wgs84).astype(object)
    reasons = {**lat_reasons, **lon_reasons}
    geometries[list(reasons)] = None
    return _table(path, "CSV", normalise_crs_name(crs), columns, geometries, reasons)


def _coordinate_columns(available: list[str], wanted: PointColumns) -> tuple[str, str]:
    """The names of the lon and lat columns: the ones asked for, else lon/lat or x/y."""
    by_lower = {name.lower(): name for name in available}
    if wanted.lon is not None or wanted.lat is not None:
        pairs: Sequence[tuple[str, str]] = ((wanted.lon or "lon", wanted.lat or "lat"),)
    else:
        pairs = DEFAULT_POINT_COLUMNS
    for lon, lat in pairs:
        if lon.lower() in by_lower and lat.lower() in by_lower:
            return by_lower[lon.lower()], by_lower[lat.lower()]
    asked = " or ".join(f"{lon}/{lat}" for lon, lat in pairs)
    raise InvalidInput(
        f"the CSV has no coordinate columns {asked} (columns: {', '.join(available)}); "
        "name them with --lon-column and --lat-column",
        field="lon_column" if wanted.lon else "file",
    )


def _numbers(
    values: npt.NDArray[Any], column: str
) -> tuple[npt.NDArray[np.float64], dict[int, str]]:
    """The column as floats, and a reason for each row that is not a number."""
    try:
        return np.asarray(values, dtype=np.float64), {}  # the fast path: every value a number
    except (TypeError, ValueError):
        pass
    numbers = np.full(len(values), np.nan)
    reasons: dict[int, str] = {}
    for row, value in enumerate(values.tolist()):
        try:
            numbers[row] = float(value)
        except (TypeError, ValueError):
            shown = "empty" if value is None or not str(value).strip() else f"{value!r}"
            reasons[row] = f"{column} is {shown}, not a number"
    return numbers, reasons


def _table(
    path: Path,
    file_format: str,
    source_crs: str,
    columns: dict[str, npt.NDArray[Any]],
    geometries: npt.NDArray[np.object_],
    geometry_reasons: dict[int, str],
) -> ComponentTable:
    """Split the columns into the known text fields and the attributes."""
    by_lower = {name.lower(): name for name in columns}
    if "code" not in by_lower:
        raise InvalidInput(
            f"{path.name} has no field 'code' (fields: {', '.join(columns) or 'none'})",
            field="file",
        )
    texts: dict[str, list[str | None]] = {
        name: _text_values(columns.pop(by_lower[name]))
        if name in by_lower
        else [None] * len(geometries)
        for name in TEXT_FIELDS
    }
    texts["code"] = [field_text(code) for code in texts["code"]]  # checked in Python: trim now
    return ComponentTable(
        source_name=path.name,
        source_format=file_format,
        source_crs=source_crs,
        texts=texts,
        attributes=columns,
        geometries=np.asarray(geometries, dtype=object),
        geometry_reasons=geometry_reasons,
    )


def _text_values(values: npt.NDArray[Any]) -> list[str | None]:
    """A column as text (blanks are trimmed in SQL); numbers stored as floats lose their `.0`."""
    if values.dtype.kind in "iu":
        return list(values.astype(str).tolist())
    if values.dtype.kind == "f":
        return [field_text(value) for value in values.tolist()]
    return list(values.tolist())  # GDAL gives text fields as str or None
