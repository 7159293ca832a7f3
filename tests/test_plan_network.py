"""Network mode end to end: `gzcharge plan --osm-file` with road distances.

No Guizhou OSM extract is available offline, so the test writes a real OSM PBF (pyosmium) of a
regular road grid (0.01° ≈ 1 km) covering 安顺市 and plans on it. On a complete grid the
shortest road distance between two nodes is the Manhattan distance along the grid lines, which
gives an independent check of the distances the plan reports.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pyogrio
import pytest
from pyproj import Geod

from tests.conftest import shared_path

STEP = 0.01
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def grid_pbf(tmp_path_factory):
    import osmium

    from gzcharge.region import get_region

    minx, miny, maxx, maxy = get_region("安顺市").boundary.bounds
    x0, y0 = math.floor(minx / STEP) * STEP - STEP, math.floor(miny / STEP) * STEP - STEP
    nx_, ny_ = int((maxx - x0) / STEP) + 3, int((maxy - y0) / STEP) + 3
    path = tmp_path_factory.mktemp("osm") / "anshun_grid.osm.pbf"
    with osmium.SimpleWriter(str(path), overwrite=True) as w:
        for i in range(ny_):
            for j in range(nx_):
                w.add_node(osmium.osm.mutable.Node(id=1 + i * nx_ + j, location=(x0 + j * STEP, y0 + i * STEP)))
        # township-level places near each county seat of 安顺 (read from the shared seat file)
        import pandas as pd

        seats = pd.read_csv(shared_path("guizhou", "county_seats_2016.csv"), dtype={"adcode": str})
        seats = seats[seats["adcode"].str.startswith("5204")]
        nid = 10_000_000
        for _, r in seats.iterrows():
            for dx, dy, tags in ((0.03, 0.0, {"place": "town", "name": f"{r['county']}甲镇"}),
                                 (-0.03, 0.0, {"place": "village", "name": f"{r['county']}乙乡"}),
                                 (0.0, 0.03, {"place": "village", "name": f"{r['county']}丙村"}),
                                 (0.0, -0.03, {"place": "city", "name": f"{r['county']}城"})):
                w.add_node(osmium.osm.mutable.Node(id=nid, location=(r["lon"] + dx, r["lat"] + dy), tags=tags))
                nid += 1
        wid = 1
        for i in range(ny_):
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[1 + i * nx_ + j for j in range(nx_)],
                                             tags={"highway": "primary" if i % 10 == 0 else "tertiary"}))
            wid += 1
        for j in range(nx_):
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[1 + i * nx_ + j for i in range(ny_)],
                                             tags={"highway": "primary" if j % 10 == 0 else "tertiary"}))
            wid += 1
    return path, (x0, y0)


def _geo(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def test_plan_network_mode_distances_follow_the_roads(tmp_path, grid_pbf):
    pbf, (x0, y0) = grid_pbf
    towns = shared_path("guizhou", "township_seats_2016.csv")
    out = tmp_path / "net.gpkg"
    res = subprocess.run(
        [sys.executable, "-m", "gzcharge", "plan", "--prefecture", "安顺市", "--townships", str(towns),
         "--osm-file", str(pbf), "--set", 'distance.mode="network"', "--tiers", "public", "--no-report",
         "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    meta = pyogrio.read_dataframe(out, layer="run_metadata").set_index("key")["value"]
    assert meta["distance_mode"] == "network"
    st = pyogrio.read_dataframe(out, layer="public_stations").set_index("site_id")
    tw = pyogrio.read_dataframe(out, layer="townships")
    assert tw["covered"].astype(bool).all()  # 乡镇全覆盖 on the road grid too
    radius_m = 10_000.0
    checked = 0
    for _, t in tw.iterrows():
        s = st.loc[t["station_id"]].geometry
        a, b = (t.geometry.x, t.geometry.y), (s.x, s.y)
        d = float(t["distance_m"])
        assert d <= radius_m + 1e-6
        # never shorter than the straight line
        assert d >= _geo(*a, *b) * 0.995 - 1.0
        # the nearest grid node of each point, then Manhattan along the grid lines
        na = (x0 + round((a[0] - x0) / STEP) * STEP, y0 + round((a[1] - y0) / STEP) * STEP)
        nb = (x0 + round((b[0] - x0) / STEP) * STEP, y0 + round((b[1] - y0) / STEP) * STEP)
        lat_lo = min(na[1], nb[1])  # horizontal legs are shortest on the northern row, longest on the southern
        lat_hi = max(na[1], nb[1])
        vert = _geo(na[0], na[1], na[0], nb[1])
        horiz_max = _geo(na[0], lat_lo, nb[0], lat_lo)
        horiz_min = _geo(na[0], lat_hi, nb[0], lat_hi)
        snaps = _geo(*a, *na) + _geo(*b, *nb)
        # osmnx measures edges on a sphere and snapping is in the Gauss-Krüger plane: allow 0.5 %
        assert d <= (vert + horiz_max + snaps) * 1.005 + 1.0
        assert d >= (vert + horiz_min + snaps) * 0.995 - 1.0
        checked += 1
    assert checked == len(tw) == 70
    # road distances are longer than straight-line ones: the network plan needs at least as much
    d_net = tw["distance_m"].to_numpy(float)
    assert np.all(np.isfinite(d_net))


def test_township_seats_from_osm_places(grid_pbf):
    """place=town and 乡-named villages become township seats, assigned to their county by polygon."""
    import geopandas as gpd

    from gzcharge.region import get_region
    from gzcharge.sources import osm

    pbf, _ = grid_pbf
    region = get_region("安顺市")
    places = osm.pois_from_file(pbf, region.boundary, tags=osm.TOWNSHIP_PLACE_TAGS)
    seats = osm.township_seats_from_pois(places, region.counties)
    # 6 counties × (甲镇 + 乙乡); 丙村 (a plain village) and 城 (place=city) are not townships
    assert len(seats) == 12
    assert seats["name"].str.endswith(("镇", "乡")).all()
    # county assignment checked against the independent shared polygons
    shared = gpd.read_file(shared_path("guizhou", "counties.geojson"))
    shared["adcode"] = shared["adcode"].astype(str)
    got = gpd.sjoin(seats, shared[["adcode", "geometry"]], predicate="within")
    assert (got["county_adcode"] == got["adcode"]).all()
    assert len(got) == 12
    region2 = region.with_townships(seats, source="osm")
    assert (region2.settlements["kind"] == "township").sum() == 12


def test_plan_takes_township_seats_from_osm(tmp_path, grid_pbf):
    pbf, _ = grid_pbf
    out = tmp_path / "osm_towns.gpkg"
    res = subprocess.run(
        [sys.executable, "-m", "gzcharge", "plan", "--prefecture", "安顺市", "--osm-file", str(pbf),
         "--tiers", "public", "--no-report", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "township seats: 12 from OSM" in res.stderr
    tw = pyogrio.read_dataframe(out, layer="townships")
    assert len(tw) == 12 and tw["settlement_id"].str.startswith("osm-node-").all()
    assert tw["covered"].astype(bool).all()


def test_plan_with_a_travel_time_township_radius(tmp_path, grid_pbf):
    """`--set public.township_radius_min=6` end to end: covered townships reach a station in 6 min."""
    pbf, _ = grid_pbf
    towns = shared_path("guizhou", "township_seats_2016.csv")
    out = tmp_path / "min.gpkg"
    res = subprocess.run(
        [sys.executable, "-m", "gzcharge", "plan", "--prefecture", "安顺市", "--townships", str(towns),
         "--osm-file", str(pbf), "--set", 'distance.mode="network"', "--set", "public.township_radius_min=6",
         "--set", "public.township_own_charger=false", "--tiers", "public", "--lang", "en", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    tw = pyogrio.read_dataframe(out, layer="townships")
    assert tw["covered"].astype(bool).all()
    # the grid's fastest road is primary at 50 km/h (network.py's class table): 6 min of driving is at most
    # 5 km of road, so no covered township has its nearest station (by road metres) farther than that
    # (the km default, 10 km, leaves townships 5-10 km from their station: checked below)
    assert float(tw["distance_m"].astype(float).max()) <= 6 / 60 * 50_000 + 1.0
    km = tmp_path / "km.gpkg"
    res = subprocess.run(
        [sys.executable, "-m", "gzcharge", "plan", "--prefecture", "安顺市", "--townships", str(towns),
         "--osm-file", str(pbf), "--set", 'distance.mode="network"', "--set", "public.township_own_charger=false",
         "--tiers", "public", "--no-report", "--out", str(km)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert float(pyogrio.read_dataframe(km, layer="townships")["distance_m"].astype(float).max()) > 5_000.0
    md = (tmp_path / "min_report.md").read_text(encoding="utf-8")
    assert "township_radius_min" in md
