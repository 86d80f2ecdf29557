"""What the grid importer and the component importer share.

Both read a file's layer column by column with pyogrio, convert it to WGS-84, judge every
geometry in Python over whole arrays, COPY the rows into a temporary table for the checks that
PostGIS answers, and refuse the whole file (ImportRejected, nothing written) with every problem
listed by the feature's index. The parts that do not depend on what is imported live here.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyogrio.errors
import pyogrio.raw
import shapely
from fastapi import UploadFile
from pyproj import CRS
from pyproj.exceptions import CRSError
from sqlalchemy.orm import Session

from citygrid.errors import CitygridError, ImportRejected, InvalidInput
from grid.file_encoding import (
    GDAL_FALLBACK_ENCODING,
    LOSSLESS,
    check_encoding,
    encoding_refusal,
    mojibake_refusal,
)
from grid.geometry import WGS84, converter_to_wgs84, geometries_to_wgs84

ProgressCallback = Callable[[str, int, int], None]  # (step description, done, total)
Problem = dict[str, Any]  # {"index": int, "code": str | None, "reason": str}

# Per feature. A real boundary needs far fewer; a larger one only slows every spatial query
# (and the validity check) down, or is an attempt to.
MAX_VERTICES = 100_000
UPLOAD_CHUNK_BYTES = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# Progress and problems


def ignore_progress(step: str, done: int, total: int) -> None:
    """The progress callback of a caller that shows none."""
    return None


def problem(index: int, code: str | None, reason: str) -> Problem:
    """One problem of the feature at `index` (0-based, in the file)."""
    return {"index": index, "code": code, "reason": reason}


def rejection(problems: list[Problem], *, total: int, unit: str, hint: str = "") -> ImportRejected:
    """The refusal of a file with problems: how many of its `total` `unit` are bad (the
    problems sorted by index), and the `hint` appended to that sentence."""
    problems.sort(key=lambda found: found["index"])
    bad_count = len({found["index"] for found in problems})
    return ImportRejected(
        f"{bad_count} of {total} {unit} have problems; nothing was written{hint}",
        problems=problems,
    )


# ---------------------------------------------------------------------------------------------
# Reading files


@dataclass(frozen=True)
class Layer:
    """A file's one layer as read: the CRS it declares, geometries as WKB, columns by name."""

    declared_crs: str | None
    wkbs: npt.NDArray[np.object_]
    columns: dict[str, npt.NDArray[Any]]


def read_layer(path: Path, *, encoding: str | None = None, code_field: str = "code") -> Layer:
    """The layer of a GeoJSON, GeoPackage or (zipped) Shapefile; InvalidInput when it cannot be
    read or holds no features.

    Text is read as UTF-8 (or as the Shapefile's .cpg says) unless `encoding` names another
    (GBK, GB18030, Big5, ...). Text that is not in that encoding is refused with the encoding it
    seems to be in and how to import it, naming the features by index and `code_field`.
    """
    meta, wkbs, field_data = _read_raw(
        path,
        _dataset_path(path),
        encoding=check_encoding(encoding),
        code_field=code_field,
        force_2d=True,
        datetime_as_string=True,
    )
    if wkbs is None or len(wkbs) == 0:
        raise InvalidInput(f"{path.name} holds no features", field="file")
    return Layer(meta.get("crs"), wkbs, dict(zip(meta["fields"], field_data, strict=True)))


def read_columns(
    path: Path, *, encoding: str | None = None, code_field: str = "code"
) -> dict[str, npt.NDArray[Any]]:
    """The columns of a table without geometries (a CSV: GDAL reads every value as text, so
    leading zeros stay); InvalidInput when it cannot be read or holds no rows. `encoding` as
    for `read_layer`."""
    meta, _, field_data = _read_raw(
        path,
        path,
        encoding=check_encoding(encoding),
        code_field=code_field,
        read_geometry=False,
    )
    if not field_data or len(field_data[0]) == 0:
        raise InvalidInput(f"{path.name} holds no rows", field="file")
    return dict(zip(meta["fields"], field_data, strict=True))


def _read_raw(
    path: Path,
    dataset: str | Path,
    *,
    encoding: str | None,
    code_field: str,
    **options: Any,
) -> tuple[dict[str, Any], Any, Any]:
    """pyogrio's metadata, WKB geometries and field arrays of `dataset` (which is `path`, or a
    GDAL path into it); InvalidInput naming the file when GDAL cannot read it, and the encoding
    refusals of `grid.file_encoding` when its text is not in `encoding` (default UTF-8)."""
    try:
        meta, _, wkbs, field_data = pyogrio.raw.read(dataset, encoding=encoding, **options)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        reason = str(error).replace(f"{path.parent}/", "")  # the file's name, not where it sits
        raise InvalidInput(f"cannot read {path.name}: {reason}", field="file") from error
    except UnicodeDecodeError as error:
        raise _encoding_refusal(path, dataset, encoding, code_field) from error
    if encoding is None and meta.get("encoding") == GDAL_FALLBACK_ENCODING:
        refusal = mojibake_refusal(path.name, _text_columns(meta["fields"], field_data))
        if refusal is not None:
            raise refusal
    return meta, wkbs, field_data


def _encoding_refusal(
    path: Path, dataset: str | Path, encoding: str | None, code_field: str
) -> CitygridError:
    """The refusal of a file whose text did not decode: read it again byte for byte (Latin-1)
    and let `grid.file_encoding` find the features and name the encoding."""
    try:
        meta, _, _, field_data = pyogrio.raw.read(dataset, encoding=LOSSLESS, read_geometry=False)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, UnicodeDecodeError):
        return InvalidInput(
            f"{path.name} is not {encoding or 'UTF-8'} text; name its encoding with --encoding",
            field="encoding",
        )
    columns = _text_columns(meta["fields"], field_data)
    codes = _codes(columns, code_field, encoding, len(field_data[0]) if field_data else 0)
    return encoding_refusal(path.name, columns, read_as=encoding, codes=codes)


def _text_columns(names: Any, field_data: Any) -> dict[str, list[Any]]:
    """The text columns (object arrays) by name, as lists."""
    return {
        str(name): values.tolist()
        for name, values in zip(names, field_data or [], strict=True)
        if values.dtype == object
    }


def _codes(
    columns: dict[str, list[Any]], code_field: str, encoding: str | None, count: int
) -> list[str | None]:
    """The features' codes (to name them), when the code field exists and reads cleanly."""
    values = columns.get(code_field)
    if values is None:
        return [None] * count
    codes: list[str | None] = []
    for value in values:
        try:
            text = value.encode(LOSSLESS).decode(encoding or "utf-8") if value else None
        except UnicodeDecodeError:
            text = None
        codes.append(field_text(text))
    return codes


def _dataset_path(path: Path) -> str:
    """A path GDAL can open; a zipped shapefile is read in place through /vsizip/."""
    if path.suffix.lower() != ".zip":
        return str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            shapefiles = [name for name in archive.namelist() if name.lower().endswith(".shp")]
    except zipfile.BadZipFile as error:
        raise InvalidInput(f"{path.name} is not a valid zip file", field="file") from error
    if len(shapefiles) != 1:
        raise InvalidInput(
            f"{path.name} must hold exactly one .shp (found {len(shapefiles)})", field="file"
        )
    return f"/vsizip/{path}/{shapefiles[0]}"


def check_crs(crs: str | None) -> None:
    """InvalidInput for an unknown --crs, before the file is read."""
    if crs is not None:
        converter_to_wgs84(crs)


def file_crs(declared: str | None) -> str:
    """The file's own CRS as an authority code; a file without one is taken as WGS-84."""
    if not declared:
        return WGS84
    try:
        authority = CRS.from_user_input(declared).to_authority()
    except CRSError as error:
        raise InvalidInput(f"the file's CRS is not readable: {error}", field="crs") from error
    if authority is None:
        raise InvalidInput(
            "the file's CRS has no EPSG code; name it with --crs (e.g. EPSG:4490)", field="crs"
        )
    return f"{authority[0]}:{authority[1]}"


def layer_geometries(layer: Layer, source_crs: str) -> npt.NDArray[np.object_]:
    """The layer's geometries in WGS-84; None where the WKB is unreadable (reported later)."""
    with np.errstate(invalid="ignore"):
        parsed = shapely.from_wkb(layer.wkbs, on_invalid="ignore")
    with np.errstate(all="ignore"):  # overflow in the datum formulas shows up as off the globe
        return geometries_to_wgs84(parsed, source_crs)


def field_text(value: Any) -> str | None:
    """A field value as stripped text; numbers stored as floats lose their `.0`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    stripped = str(value).strip()
    return stripped or None


def save_upload(
    upload: UploadFile, directory: Path, *, suffixes: tuple[str, ...], max_bytes: int
) -> Path:
    """The upload copied into `directory` under its own name, so that GDAL can open it and its
    suffix (one of `suffixes`) tells the format; InvalidInput beyond `max_bytes`."""
    file_name = Path(upload.filename or "upload").name  # .name: no directories from the client
    if Path(file_name).suffix.lower() not in suffixes:
        raise InvalidInput(
            f"file {upload.filename!r} must end in {', '.join(suffixes)} "
            "(zip the parts of a Shapefile)",
            field="file",
        )
    path = directory / file_name
    size = 0
    with path.open("wb") as target:
        while chunk := upload.file.read(UPLOAD_CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                limit_mb = max_bytes // (1024 * 1024)
                raise InvalidInput(f"file is larger than {limit_mb} MB", field="file")
            target.write(chunk)
    return path


# ---------------------------------------------------------------------------------------------
# Checks of one geometry at a time (GEOS or PostGIS judges validity)


@dataclass(frozen=True)
class GeometryRules:
    """Which geometry types an importer accepts, and how it words two of its refusals."""

    accepted_type_ids: frozenset[int]
    accepted_names: str  # "Polygon and MultiPolygon": "only … are accepted"
    nan_reason: str


def geometry_reasons(geometries: npt.NDArray[np.object_], rules: GeometryRules) -> dict[int, str]:
    """Why a geometry cannot be staged, by row, for the rows where it cannot."""
    missing = shapely.is_missing(geometries)
    type_ids = shapely.get_type_id(geometries)
    coords, owners = shapely.get_coordinates(geometries, return_index=True)
    has_nan = np.zeros(len(geometries), dtype=bool)
    has_nan[owners[~np.isfinite(coords).all(axis=1)]] = True
    with np.errstate(invalid="ignore"):
        bounds = shapely.bounds(geometries)
        off_globe = (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1) | (
            np.abs(bounds[:, [1, 3]]) > 90
        ).any(axis=1)
    accepted = np.isin(type_ids, list(rules.accepted_type_ids))
    empty = shapely.is_empty(geometries) & ~missing
    vertex_counts = shapely.get_num_coordinates(geometries)
    bad = missing | ~accepted | empty | has_nan | off_globe | (vertex_counts > MAX_VERTICES)
    return {
        row: geometry_reason(
            geometries[row],
            rules,
            accepted=bool(accepted[row]),
            nan=bool(has_nan[row]),
            vertices=int(vertex_counts[row]),
        )
        for row in np.flatnonzero(bad).tolist()
    }


def geometry_reason(
    geometry: shapely.Geometry | None,
    rules: GeometryRules,
    *,
    accepted: bool,
    nan: bool,
    vertices: int,
) -> str:
    """Why a geometry that `geometry_reasons` found bad is bad; what is left when no other
    reason holds is that it lies off the globe."""
    if geometry is None:
        return "geometry is missing or unreadable"
    if not accepted:
        return f"geometry is a {geometry.geom_type}; only {rules.accepted_names} are accepted"
    if geometry.is_empty:
        return "geometry is empty"
    too_many = too_many_vertices(vertices)
    if too_many:
        return too_many
    if nan:
        return rules.nan_reason
    return "coordinates fall outside longitude/latitude after conversion (wrong --crs?)"


def too_many_vertices(vertices: int) -> str | None:
    """Why a geometry of `vertices` vertices is refused, or None when it is not."""
    if vertices <= MAX_VERTICES:
        return None
    return f"geometry has {vertices} vertices; at most {MAX_VERTICES} are accepted (simplify it)"


# ---------------------------------------------------------------------------------------------
# Staging


def staged_ewkbs(geometries: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """The geometries as hex EWKB with SRID 4326, as COPY takes them (None stays None)."""
    return shapely.to_wkb(  # type: ignore[no-any-return]
        shapely.set_srid(geometries, 4326), hex=True, include_srid=True
    )


def copy_rows(
    session: Session,
    statement: str,
    rows: Iterable[Sequence[Any]],
    *,
    total: int,
    progress: ProgressCallback,
    step: str,
    every: int,
) -> None:
    """COPY the rows through the session's own psycopg connection, so they join the session's
    transaction; `progress` hears of each `every` rows and of the last."""
    driver_connection = session.connection().connection.driver_connection
    assert driver_connection is not None
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for done, row in enumerate(rows, start=1):
            copy.write_row(row)
            if done % every == 0 or done == total:
                progress(step, done, total)
