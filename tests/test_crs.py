"""GCJ-02 conversion checked against the published ``prcoords`` implementation (CC0)."""

from __future__ import annotations

import numpy as np
import pytest

from gzcharge import crs

prcoords = pytest.importorskip("prcoords")

N_POINTS = 3000


@pytest.fixture(scope="module")
def guizhou_points():
    rng = np.random.default_rng(20240601)
    return rng.uniform(103.6, 109.6, N_POINTS), rng.uniform(24.6, 29.2, N_POINTS)


def test_forward_matches_prcoords(guizhou_points):
    lon, lat = guizhou_points
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    ref = np.array([prcoords.wgs_gcj((a, o)) for o, a in zip(lon, lat, strict=True)])  # (lat, lon)
    assert np.abs(g_lon - ref[:, 1]).max() < 1e-9
    assert np.abs(g_lat - ref[:, 0]).max() < 1e-9


def test_inverse_matches_prcoords_and_round_trips(guizhou_points):
    lon, lat = guizhou_points
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    w_lon, w_lat = crs.gcj02_to_wgs84(g_lon, g_lat)
    ref = np.array([prcoords.gcj_wgs_bored((a, o)) for o, a in zip(g_lon, g_lat, strict=True)])
    # prcoords' iterative inverse is good to a few mm; 1e-7 deg is about 1 cm
    assert np.abs(w_lon - ref[:, 1]).max() < 1e-7
    assert np.abs(w_lat - ref[:, 0]).max() < 1e-7
    # and ours recovers the WGS-84 input to far better than 1e-7 deg
    assert np.abs(w_lon - lon).max() < 1e-9
    assert np.abs(w_lat - lat).max() < 1e-9


def test_one_step_inverse_would_be_metres_off(guizhou_points):
    """The iteration matters: subtracting the offset once leaves metre-level errors."""
    lon, lat = guizhou_points
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    f_lon, f_lat = crs.wgs84_to_gcj02(g_lon, g_lat)
    one_lon = g_lon - (f_lon - g_lon)
    assert np.abs(one_lon - lon).max() * 100_000 > 0.5  # > ~0.5 m somewhere


def test_offset_size_in_guizhou(guizhou_points):
    """GCJ-02 moves Guizhou points by a few hundred metres (~540 m at Guiyang, field notes)."""
    import pyproj

    lon, lat = guizhou_points
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    _, _, dist_m = pyproj.Geod(ellps="WGS84").inv(lon, lat, g_lon, g_lat)
    assert 300 < dist_m.min() and dist_m.max() < 700
    _, _, guiyang_m = pyproj.Geod(ellps="WGS84").inv(106.71, 26.57, *crs.wgs84_to_gcj02(106.71, 26.57))
    assert 500 < guiyang_m < 580


def test_outside_china_unchanged():
    lon = np.array([26.7, -122.28, 2.35])  # Kouvola, Oakland, Paris
    lat = np.array([60.87, 37.81, 48.85])
    for func in (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_scalar_and_shape_checks():
    lon, lat = crs.wgs84_to_gcj02(106.71, 26.57)
    assert np.ndim(lon) == 0 and lon > 106.71
    with pytest.raises(ValueError, match="shape"):
        crs.wgs84_to_gcj02([1.0, 2.0], [1.0])


def test_geodataframe_conversion_matches_pointwise():
    import geopandas as gpd
    import shapely

    poly = shapely.Polygon([(106.6, 26.5), (106.8, 26.5), (106.8, 26.7), (106.6, 26.5)])
    gdf = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[poly, shapely.Point(105.9, 26.25)],
                           crs="EPSG:4326")
    gcj = crs.geodataframe_wgs84_to_gcj02(gdf)
    coords = shapely.get_coordinates(gcj.geometry.values)
    src = shapely.get_coordinates(gdf.geometry.values)
    exp_lon, exp_lat = crs.wgs84_to_gcj02(src[:, 0], src[:, 1])
    np.testing.assert_allclose(coords, np.column_stack([exp_lon, exp_lat]), rtol=0, atol=1e-12)
    back = crs.geodataframe_gcj02_to_wgs84(gcj)
    np.testing.assert_allclose(shapely.get_coordinates(back.geometry.values), src, rtol=0, atol=1e-9)
    assert list(back["code"]) == ["a", "b"] and back.crs.to_epsg() == 4326
    assert shapely.get_coordinates(gdf.geometry.values)[0, 0] == 106.6  # input untouched
    with pytest.raises(ValueError, match="longitude/latitude"):
        crs.geodataframe_gcj02_to_wgs84(gdf.to_crs(crs.GK_105E))


def test_metric_crs_zones():
    assert crs.metric_crs_for(105.9) == "EPSG:4544"
    assert crs.metric_crs_for(107.9) == "EPSG:4545"
