"""Coordinate reference systems for Guizhou.

Metric work uses CGCS2000 3-degree Gauss-Krüger zones: EPSG:4544 (central meridian 105°E)
west of 106.5°E and EPSG:4545 (central meridian 108°E) east of it. A region that spans both
zones uses the zone of its centroid (scale error at 1.5° from the central meridian is about
0.03%, well below what siting needs).
"""

from __future__ import annotations

WGS84 = "EPSG:4326"
GK_105E = "EPSG:4544"  # CGCS2000 / 3-degree Gauss-Kruger CM 105E
GK_108E = "EPSG:4545"  # CGCS2000 / 3-degree Gauss-Kruger CM 108E
ZONE_SPLIT_LON = 106.5


def metric_crs_for(lon: float, lat: float | None = None) -> str:
    """Return the metric CRS (EPSG string) for a region centred at ``lon`` (and ``lat``).

    Inside the two Guizhou zones (103.5–109.5°E) the CGCS2000 Gauss-Krüger zone that holds
    ``lon``; elsewhere, when ``lat`` is given (custom areas, test data from other countries),
    the WGS-84 UTM zone of the centre.

    Parameters
    ----------
    lon, lat
        Degrees, WGS-84 — usually the centroid of the region.
    """
    if lat is not None and not (103.5 <= lon <= 109.5 and 15 <= lat <= 45):
        zone = int((lon + 180) // 6) + 1
        return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"
    return GK_105E if lon < ZONE_SPLIT_LON else GK_108E


# --- GCJ-02 ("Mars coordinates") --------------------------------------------------------
#
# GCJ-02 is the obfuscated datum that Chinese web maps (Amap/Gaode, Tencent, Aliyun DataV)
# publish. It is WGS-84 plus a smooth, deterministic offset (~540 m in Guizhou) computed on
# the Krasovsky 1940 ellipsoid; outside China no offset is applied. The forward formula
# below is the widely published one (checked against the ``prcoords`` package in the tests);
# the inverse is a fixed-point iteration on the forward formula.

_GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis, m
_GCJ_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
# bounding box treated as "in China" (the usual one, as in prcoords' sanity_in_china_p)
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
GCJ02_INVERSE_TOL_DEG = 1e-10
GCJ02_INVERSE_MAX_ITER = 30


def _as_float_arrays(lon, lat):
    import numpy as np

    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon and lat differ in shape: {lon_a.shape} vs {lat_a.shape}")
    return lon_a, lat_a


def _in_china(lon, lat):
    return (
        (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1]) & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])
    )


def _gcj02_offset_deg(lon, lat):
    """Return (dlon, dlat) in degrees that GCJ-02 adds to WGS-84 ``lon``, ``lat`` (arrays)."""
    import numpy as np

    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (2.0 * np.sin(6.0 * pi * x) + 2.0 * np.sin(2.0 * pi * x)) * 20.0 / 3.0
    dlat_m = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + common
        + (2.0 * np.sin(pi * y) + 4.0 * np.sin(pi * y / 3.0)) * 20.0 / 3.0
        + (16.0 * np.sin(pi * y / 12.0) + 32.0 * np.sin(pi * y / 30.0)) * 20.0 / 3.0
    )
    dlon_m = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + common
        + (2.0 * np.sin(pi * x) + 4.0 * np.sin(pi * x / 3.0)) * 20.0 / 3.0
        + (15.0 * np.sin(pi * x / 12.0) + 30.0 * np.sin(pi * x / 30.0)) * 20.0 / 3.0
    )
    rad_lat = np.radians(lat)
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    lat_deg_m = np.radians(_GCJ_A * (1.0 - _GCJ_EE) / magic**1.5)  # metres per degree latitude
    lon_deg_m = np.radians(_GCJ_A * np.cos(rad_lat) / np.sqrt(magic))  # metres per degree longitude
    inside = _in_china(lon, lat)
    return np.where(inside, dlon_m / lon_deg_m, 0.0), np.where(inside, dlat_m / lat_deg_m, 0.0)


def wgs84_to_gcj02(lon, lat):
    """Convert WGS-84 longitude/latitude to GCJ-02 (vectorised).

    Parameters
    ----------
    lon, lat
        Degrees, scalars or arrays of the same shape.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon_gcj, lat_gcj)`` in degrees; points outside China are returned unchanged.
    """
    lon_a, lat_a = _as_float_arrays(lon, lat)
    dlon, dlat = _gcj02_offset_deg(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def gcj02_to_wgs84(lon, lat, *, tol_deg: float = GCJ02_INVERSE_TOL_DEG):
    """Convert GCJ-02 longitude/latitude back to WGS-84 (vectorised, iterative).

    The offset is smooth, so the fixed-point iteration ``w <- w - (f(w) - g)`` converges
    in a handful of steps; it stops when every point moves less than ``tol_deg``
    (default 1e-10°, about 0.01 mm). A one-step inverse would be ~1–2 m off.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees, scalars or arrays of the same shape.
    tol_deg
        Convergence tolerance in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon_wgs, lat_wgs)``; points outside China are returned unchanged.
    """
    import numpy as np

    g_lon, g_lat = _as_float_arrays(lon, lat)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(GCJ02_INVERSE_MAX_ITER):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        d_lon, d_lat = f_lon - g_lon, f_lat - g_lat
        w_lon = w_lon - d_lon
        w_lat = w_lat - d_lat
        if d_lon.size == 0 or max(np.nanmax(np.abs(d_lon)), np.nanmax(np.abs(d_lat))) < tol_deg:
            break
    return w_lon, w_lat


def _transform_coords(func):
    def apply(coords):
        import numpy as np

        lon, lat = func(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return apply


def geodataframe_gcj02_to_wgs84(gdf):
    """Return a copy of a GeoDataFrame whose lon/lat geometries are GCJ-02, converted to WGS-84.

    The frame must be in geographic coordinates (EPSG:4326 or no CRS); the result is
    EPSG:4326. Vertices are converted with :func:`gcj02_to_wgs84` in one vectorised call
    per geometry column (``shapely.transform``).
    """
    return _convert_geodataframe(gdf, gcj02_to_wgs84)


def geodataframe_wgs84_to_gcj02(gdf):
    """Return a copy of a WGS-84 GeoDataFrame with its geometries shifted to GCJ-02.

    For writing layers that overlay Amap/DataV basemaps; the result is still labelled
    EPSG:4326 (GCJ-02 has no EPSG code), so keep such files apart.
    """
    return _convert_geodataframe(gdf, wgs84_to_gcj02)


def _convert_geodataframe(gdf, func):
    import shapely

    if gdf.crs is not None and not gdf.crs.is_geographic:
        raise ValueError(
            f"GCJ-02 conversion needs longitude/latitude geometries, got CRS {gdf.crs.to_string()}"
        )
    import geopandas as gpd

    out = gdf.copy()
    geoms = shapely.transform(out.geometry.values, _transform_coords(func))
    out[out.geometry.name] = gpd.GeoSeries(geoms, index=out.index, crs=gdf.crs or WGS84)
    return out


# --- BD-09 (Baidu) ---------------------------------------------------------------------
#
# Baidu Maps publish BD-09 longitude/latitude: GCJ-02 plus a second, smaller polar-coordinate
# shift (radius + 2e-5·sin(lat·3000π/180)°, angle + 3e-6·cos(lon·3000π/180) rad, then
# +0.0065°E, +0.006°N; about 0.7–1 km in Guizhou). This is the widely published formula that
# Baidu's geoconv service approximates (checked against the independent ``prcoords`` package
# in the tests). The inverse is, as for GCJ-02, a fixed-point iteration on the forward formula.

_BD_K = 3.14159265358979324 * 3000.0 / 180.0  # π·3000/180: the published constant
_BD_DLON = 0.0065
_BD_DLAT = 0.006


def gcj02_to_bd09(lon, lat):
    """Convert GCJ-02 longitude/latitude to BD-09 (Baidu; vectorised).

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees, scalars or arrays of the same shape.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon_bd, lat_bd)`` in degrees.
    """
    import numpy as np

    x, y = _as_float_arrays(lon, lat)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_K)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_K)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def bd09_to_gcj02(lon, lat, *, tol_deg: float = GCJ02_INVERSE_TOL_DEG):
    """Convert BD-09 (Baidu) longitude/latitude back to GCJ-02 (vectorised, iterative).

    Starts from the usual one-step inverse and refines ``g <- g − (f(g) − b)`` with the forward
    formula until every point moves less than ``tol_deg``.

    Parameters
    ----------
    lon, lat
        BD-09 degrees, scalars or arrays of the same shape.
    tol_deg
        Convergence tolerance in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon_gcj, lat_gcj)``.
    """
    import numpy as np

    b_lon, b_lat = _as_float_arrays(lon, lat)
    x, y = b_lon - _BD_DLON, b_lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_K)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_K)
    g_lon, g_lat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(GCJ02_INVERSE_MAX_ITER):
        f_lon, f_lat = gcj02_to_bd09(g_lon, g_lat)
        d_lon, d_lat = f_lon - b_lon, f_lat - b_lat
        g_lon, g_lat = g_lon - d_lon, g_lat - d_lat
        if d_lon.size == 0 or max(np.nanmax(np.abs(d_lon)), np.nanmax(np.abs(d_lat))) < tol_deg:
            break
    return g_lon, g_lat


def wgs84_to_bd09(lon, lat):
    """Convert WGS-84 longitude/latitude to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    """Convert BD-09 (Baidu) longitude/latitude to WGS-84 (both inverses iterative, ~1e-10°)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


#: Geographic coordinate systems gzcharge converts to WGS-84 itself (pyproj knows neither).
LONLAT_TO_WGS84 = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


def lonlat_to_wgs84(lon, lat, crs: str):
    """Longitude/latitude in ``crs`` (``"wgs84"``, ``"gcj02"`` or ``"bd09"``) as WGS-84 arrays."""
    if crs == "wgs84":
        return _as_float_arrays(lon, lat)
    return LONLAT_TO_WGS84[crs](lon, lat)
