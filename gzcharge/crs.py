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


def metric_crs_for(lon: float) -> str:
    """Return the Gauss-Krüger CRS (EPSG string) whose zone holds longitude ``lon`` (°E).

    Parameters
    ----------
    lon
        Longitude in degrees, WGS-84 — usually the centroid longitude of the region.
    """
    return GK_105E if lon < ZONE_SPLIT_LON else GK_108E
