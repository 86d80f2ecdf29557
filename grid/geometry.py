"""Coordinate systems and datums (pure): everything is stored in WGS-84 (EPSG:4326).

EPSG systems go through pyproj. GCJ-02 (the offset datum of Chinese consumer maps such as AMap) and
BD-09 (Baidu's further offset) are not EPSG systems and no PROJ pipeline exists for them: their
published forward formulas are applied here, vectorised with numpy because imports and bulk
geolocation convert millions of coordinates. Neither offset has an exact closed-form inverse (the
"inverse" BD-09 formula in circulation is off by up to 0.15 m), so both are inverted by fixed-point
iteration on their forward formula, to below 1e-10 degrees (about 0.01 mm) in a few steps.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from math import floor

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError

from citygrid.errors import InvalidInput

Coordinates = npt.NDArray[np.float64]  # shape (n, 2): lon, lat (or x, y)
WGS84 = "EPSG:4326"
GCJ02 = "GCJ-02"
BD09 = "BD-09"

_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BD_X_PI = np.pi * 3000.0 / 180.0
# Inverting a datum offset: stop once no point moves by more than this (degrees; 1e-10° ≈ 0.01 mm),
# or after so many steps (each step shrinks the error by a factor of about 1,000, so 4-5 suffice).
INVERSE_TOLERANCE_DEG = 1e-10
INVERSE_MAX_STEPS = 20


def _offset_lat(x: Coordinates, y: Coordinates) -> Coordinates:
    result = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    result += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    result += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    result += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return result


def _offset_lon(x: Coordinates, y: Coordinates) -> Coordinates:
    result = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    result += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    result += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    result += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return result


def _outside_china(lon: Coordinates, lat: Coordinates) -> npt.NDArray[np.bool_]:
    """GCJ-02 leaves coordinates outside China's rough bounding box unchanged."""
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def wgs84_to_gcj02(coords: Coordinates) -> Coordinates:
    lon, lat = coords[:, 0], coords[:, 1]
    d_lat = _offset_lat(lon - 105.0, lat - 35.0)
    d_lon = _offset_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * np.pi
    magic = 1 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_KRASOVSKY_A * (1 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    shifted = np.column_stack([lon + d_lon, lat + d_lat])
    return np.where(_outside_china(lon, lat)[:, None], coords, shifted)


def invert_offset(
    forward: Callable[[Coordinates], Coordinates], target: Coordinates
) -> Coordinates:
    """The coordinates that `forward` maps onto `target`: x ← x − (forward(x) − target), repeated.

    Both datum offsets are small and smooth (their Jacobian is the identity plus terms below 1e-3),
    so the iteration contracts fast; it stops when no point moves by more than
    INVERSE_TOLERANCE_DEG. A NaN point stays NaN and does not hold the others up.
    """
    estimate = target.copy()
    for _ in range(INVERSE_MAX_STEPS):
        step = forward(estimate) - target
        estimate = estimate - step
        if not (np.abs(step) > INVERSE_TOLERANCE_DEG).any():  # NaN compares False: done
            break
    return estimate


def gcj02_to_wgs84(coords: Coordinates) -> Coordinates:
    """GCJ-02 → WGS-84: the forward offset inverted by iteration."""
    return invert_offset(wgs84_to_gcj02, coords)


def bd09_to_gcj02_closed_form(coords: Coordinates) -> Coordinates:
    """The closed-form BD-09 → GCJ-02 found in most libraries: approximate, off by up to 0.15 m.
    Not used for conversion; kept to show (in the tests) what `bd09_to_gcj02` corrects."""
    x = coords[:, 0] - 0.0065
    y = coords[:, 1] - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    return np.column_stack([z * np.cos(theta), z * np.sin(theta)])


def gcj02_to_bd09(coords: Coordinates) -> Coordinates:
    x, y = coords[:, 0], coords[:, 1]
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return np.column_stack([z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006])


def bd09_to_gcj02(coords: Coordinates) -> Coordinates:
    """BD-09 → GCJ-02: Baidu's forward formula inverted by iteration (exact, unlike the closed
    form)."""
    return invert_offset(gcj02_to_bd09, coords)


def bd09_to_wgs84(coords: Coordinates) -> Coordinates:
    return gcj02_to_wgs84(bd09_to_gcj02(coords))


def normalise_crs_name(name: str) -> str:
    """Canonical spelling of a CRS name: GCJ-02, BD-09, or an authority code such as EPSG:4490."""
    compact = name.strip().upper().replace("_", "-")
    if compact in {"GCJ-02", "GCJ02", "GCJ"}:
        return GCJ02
    if compact in {"BD-09", "BD09", "BAIDU"}:
        return BD09
    if compact in {"WGS84", "WGS-84", "CRS84", "OGC:CRS84"}:
        return WGS84
    return compact


@lru_cache(maxsize=64)
def converter_to_wgs84(crs_name: str) -> Callable[[Coordinates], Coordinates]:
    """A function turning (n, 2) coordinates in `crs_name` into WGS-84 lon/lat."""
    crs_name = normalise_crs_name(crs_name)
    if crs_name == WGS84:
        return lambda coords: coords
    if crs_name == GCJ02:
        return gcj02_to_wgs84
    if crs_name == BD09:
        return bd09_to_wgs84
    return _pyproj_converter(crs_name)


def _pyproj_converter(crs_name: str) -> Callable[[Coordinates], Coordinates]:
    try:
        crs = CRS.from_user_input(crs_name)
        transformer = Transformer.from_crs(crs, WGS84, always_xy=True)
    except ProjError as error:  # CRSError is a ProjError
        raise InvalidInput(
            f"unknown coordinate system {crs_name!r}; use EPSG:4326, EPSG:4490, GCJ-02, BD-09 "
            "or another EPSG code",
            field="crs",
        ) from error
    if not (crs.is_geographic or crs.is_projected):
        # A vertical or geocentric CRS would "convert" x/y into some unrelated lon/lat.
        raise InvalidInput(
            f"{crs_name} is not a horizontal (geographic or projected) coordinate system",
            field="crs",
        )

    def convert(coords: Coordinates) -> Coordinates:
        lon, lat = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return convert


def points_to_wgs84(lon: Coordinates, lat: Coordinates, crs_name: str) -> Coordinates:
    coords = np.column_stack([np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)])
    return converter_to_wgs84(crs_name)(coords)


def geometries_to_wgs84(
    geometries: npt.NDArray[np.object_], crs_name: str
) -> npt.NDArray[np.object_]:
    convert = converter_to_wgs84(crs_name)
    if normalise_crs_name(crs_name) == WGS84:
        return geometries
    return shapely.transform(geometries, convert)  # type: ignore[no-any-return]


def utm_crs_for(lon: float, lat: float) -> str:
    """The UTM zone's EPSG code for a point: metres with little distortion for a city."""
    zone = floor((lon + 180.0) / 6.0) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"
