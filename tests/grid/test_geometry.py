"""Datums and coordinate systems, on published fixture pairs (pure)."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod, Transformer

from citygrid.errors import InvalidInput
from grid.geometry import (
    BD09,
    GCJ02,
    Coordinates,
    bd09_to_gcj02,
    bd09_to_gcj02_closed_form,
    bd09_to_wgs84,
    converter_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    normalise_crs_name,
    points_to_wgs84,
    utm_crs_for,
    wgs84_to_gcj02,
)

WGS84_GEOD = Geod(ellps="WGS84")
Pair = tuple[tuple[float, float], tuple[float, float]]

# (WGS-84 lon/lat, GCJ-02 lon/lat)
WGS84_TO_GCJ02: dict[str, Pair] = {
    "Shanghai": ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    "Shenzhen": ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    "Beijing": ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
}
# eviltransform's BD-09 fixtures are not used: that library evaluates Baidu's offset with π where
# the published formula has 3000π/180, so its pairs differ from Baidu's by 10-40 m.
OUTSIDE_CHINA = {
    "London": (-0.1276, 51.5072),
    "New York": (-74.006, 40.7128),
    "Sydney": (151.2093, -33.8688),
    "Tokyo": (139.6917, 35.6895),
}


def one(lon: float, lat: float) -> Coordinates:
    return np.array([[lon, lat]], dtype=float)


def metres_between(a: Coordinates, b: tuple[float, float]) -> float:
    _, _, distance_m = WGS84_GEOD.inv(a[0, 0], a[0, 1], b[0], b[1])
    return float(distance_m)


@pytest.mark.parametrize(("wgs84", "gcj02"), WGS84_TO_GCJ02.values(), ids=WGS84_TO_GCJ02)
def test_wgs84_to_gcj02_matches_the_fixture_within_1e6_degrees(
    wgs84: tuple[float, float], gcj02: tuple[float, float]
) -> None:
    shifted = wgs84_to_gcj02(one(*wgs84))
    np.testing.assert_allclose(shifted[0], gcj02, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("wgs84", "gcj02"), WGS84_TO_GCJ02.values(), ids=WGS84_TO_GCJ02)
def test_gcj02_to_wgs84_inverts_within_a_metre(
    wgs84: tuple[float, float], gcj02: tuple[float, float]
) -> None:
    assert metres_between(gcj02_to_wgs84(one(*gcj02)), wgs84) < 1.0


@pytest.mark.parametrize(("wgs84", "gcj02"), WGS84_TO_GCJ02.values(), ids=WGS84_TO_GCJ02)
def test_gcj02_offset_is_hundreds_of_metres_in_china(
    wgs84: tuple[float, float], gcj02: tuple[float, float]
) -> None:
    assert 100.0 < metres_between(one(*gcj02), wgs84) < 1000.0


@pytest.mark.parametrize(("wgs84", "gcj02"), WGS84_TO_GCJ02.values(), ids=WGS84_TO_GCJ02)
def test_gcj02_to_wgs84_inverts_within_a_centimetre(
    wgs84: tuple[float, float], gcj02: tuple[float, float]
) -> None:
    # The fixtures' own rounding (1e-7° here) is the only error left: the inverse is exact.
    assert metres_between(gcj02_to_wgs84(one(*gcj02)), wgs84) < 0.01


@pytest.mark.parametrize(
    "wgs84",
    [(120.00877901149691, 29.196131605295484), (120.0253853970846, 29.206795749156136)]
    + [pair[0] for pair in WGS84_TO_GCJ02.values()],
)
def test_bd09_to_wgs84_inverts_the_forward_chain_within_a_millimetre(
    wgs84: tuple[float, float],
) -> None:
    bd09 = gcj02_to_bd09(wgs84_to_gcj02(one(*wgs84)))
    assert metres_between(bd09_to_wgs84(bd09), wgs84) < 0.001


# Glatzel/pyxis (geotool) crypto test vectors: one point in WGS-84, GCJ-02 and BD-09. Its WGS-84
# is rounded to 1e-7°, which is up to ~9 mm; its GCJ-02 and BD-09 are full precision.
PYXIS_WGS84 = (121.0917077, 30.6107779)
PYXIS_GCJ02 = (121.09626935575027, 30.608604331756705)
PYXIS_BD09 = (121.10271732371203, 30.61484572185035)
# wandergis/coordtransform's README pair: gcj02tobd09(116.404, 39.915).
COORDTRANSFORM_GCJ02 = (116.404, 39.915)
COORDTRANSFORM_BD09 = (116.41036949371029, 39.92133699351021)
BD09_TO_GCJ02 = {
    "pyxis": (PYXIS_BD09, PYXIS_GCJ02),
    "coordtransform": (COORDTRANSFORM_BD09, COORDTRANSFORM_GCJ02),
}


@pytest.mark.parametrize(("bd09", "gcj02"), BD09_TO_GCJ02.values(), ids=BD09_TO_GCJ02)
def test_bd09_to_gcj02_is_exact_on_published_pairs(
    bd09: tuple[float, float], gcj02: tuple[float, float]
) -> None:
    np.testing.assert_allclose(bd09_to_gcj02(one(*bd09))[0], gcj02, rtol=0, atol=1e-9)
    # The closed form that most libraries ship is what issue 16 measured: centimetres off.
    assert metres_between(bd09_to_gcj02_closed_form(one(*bd09)), gcj02) > 0.02


def test_bd09_to_wgs84_is_within_a_centimetre_of_the_published_point() -> None:
    assert metres_between(bd09_to_wgs84(one(*PYXIS_BD09)), PYXIS_WGS84) < 0.01


def test_wgs84_bd09_round_trip_across_beijing_is_within_a_centimetre() -> None:
    # 61 × 61 points over the municipality (115.4-117.5 E, 39.4-41.1 N), converted as one array.
    lon, lat = np.meshgrid(np.linspace(115.4, 117.5, 61), np.linspace(39.4, 41.1, 61))
    wgs84 = np.column_stack([lon.ravel(), lat.ravel()])
    back = bd09_to_wgs84(gcj02_to_bd09(wgs84_to_gcj02(wgs84)))
    _, _, distance_m = WGS84_GEOD.inv(wgs84[:, 0], wgs84[:, 1], back[:, 0], back[:, 1])
    assert float(np.max(distance_m)) < 0.01
    np.testing.assert_allclose(back, wgs84, rtol=0, atol=1e-9)


def test_inverse_keeps_nan_points_and_converts_the_others() -> None:
    bd09 = gcj02_to_bd09(wgs84_to_gcj02(np.array([[np.nan, 39.9], [116.4, 39.9]])))
    back = bd09_to_wgs84(bd09)
    assert np.isnan(back[0]).all()
    np.testing.assert_allclose(back[1], (116.4, 39.9), rtol=0, atol=1e-9)


def test_gcj02_to_bd09_matches_the_fixture() -> None:
    bd09 = gcj02_to_bd09(one(116.404, 39.915))
    np.testing.assert_allclose(bd09[0], (116.41036949371029, 39.92133699351021), rtol=0, atol=1e-6)


@pytest.mark.parametrize("lon_lat", OUTSIDE_CHINA.values(), ids=OUTSIDE_CHINA)
def test_gcj02_leaves_points_outside_china_unchanged(lon_lat: tuple[float, float]) -> None:
    np.testing.assert_array_equal(wgs84_to_gcj02(one(*lon_lat))[0], lon_lat)
    np.testing.assert_array_equal(gcj02_to_wgs84(one(*lon_lat))[0], lon_lat)


def test_vectorised_conversion_keeps_each_point_in_its_row() -> None:
    wgs84 = np.array([pair[0] for pair in WGS84_TO_GCJ02.values()] + [OUTSIDE_CHINA["London"]])
    expected = np.array([pair[1] for pair in WGS84_TO_GCJ02.values()] + [OUTSIDE_CHINA["London"]])
    np.testing.assert_allclose(wgs84_to_gcj02(wgs84), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("gcj02", GCJ02),
        (" GCJ_02 ", GCJ02),
        ("baidu", BD09),
        ("bd09", BD09),
        ("wgs84", "EPSG:4326"),
        ("OGC:CRS84", "EPSG:4326"),
        ("epsg:4490", "EPSG:4490"),
    ],
)
def test_crs_names_are_normalised(name: str, canonical: str) -> None:
    assert normalise_crs_name(name) == canonical


@pytest.mark.parametrize("name", ["EPSG:999999", "not-a-crs", "GCJ-03"])
def test_unknown_crs_is_invalid_input_naming_crs(name: str) -> None:
    with pytest.raises(InvalidInput, match="unknown coordinate system") as raised:
        converter_to_wgs84(name)
    assert raised.value.field == "crs"


@pytest.mark.parametrize(
    "name", ["EPSG:5773", "EPSG:4978"], ids=["vertical EGM96 height", "geocentric WGS-84"]
)
def test_non_horizontal_crs_is_invalid_input_naming_crs(name: str) -> None:
    with pytest.raises(InvalidInput, match="not a horizontal") as raised:
        converter_to_wgs84(name)
    assert raised.value.field == "crs"


@pytest.mark.parametrize("name", ["EPSG:4490", "EPSG:32650", "EPSG:3857", "EPSG:9518"])
def test_horizontal_crs_are_accepted(name: str) -> None:
    assert callable(converter_to_wgs84(name))


@pytest.mark.parametrize("lon_lat", [(116.404, 39.915), (121.4737, 31.2304), (87.6168, 43.8256)])
def test_cgcs2000_is_wgs84_within_a_metre(lon_lat: tuple[float, float]) -> None:
    converted = points_to_wgs84(np.array([lon_lat[0]]), np.array([lon_lat[1]]), "EPSG:4490")
    assert metres_between(converted, lon_lat) < 1.0


def test_projected_crs_comes_back_to_lon_lat() -> None:
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
    easting, northing = to_utm.transform(116.404, 39.915)
    assert 400_000 < easting < 500_000  # a UTM easting, not degrees
    converted = points_to_wgs84(np.array([easting]), np.array([northing]), "EPSG:32650")
    assert metres_between(converted, (116.404, 39.915)) < 0.001


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (116.404, 39.915, "EPSG:32650"),  # Beijing
        (121.4737, 31.2304, "EPSG:32651"),  # Shanghai
        (87.6168, 43.8256, "EPSG:32645"),  # Ürümqi
        (151.2093, -33.8688, "EPSG:32756"),  # Sydney, southern hemisphere
        (-180.0, 0.0, "EPSG:32601"),
        (179.999, 0.0, "EPSG:32660"),
    ],
)
def test_utm_crs_for(lon: float, lat: float, epsg: str) -> None:
    assert utm_crs_for(lon, lat) == epsg
