"""Traffic rules of the highway tier: per-capita gravity totals and short trips on a home charge."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from gzcharge.highway.model import plan_highway
from gzcharge.highway.params import HighwayParams

CRS = "EPSG:4544"
POP = 1_000_000


def _inputs():
    # a straight 300 km expressway; towns A at km 0, B at km 40, C at km 300 (on the line)
    line = gpd.GeoDataFrame({"name": ["G1"]}, geometry=[LineString([(500_000, 2_900_000), (800_000, 2_900_000)])],
                            crs=CRS)
    towns = gpd.GeoDataFrame({"settlement_id": ["A", "B", "C"], "name": ["A", "B", "C"], "population": [POP] * 3},
                             geometry=[Point(500_000, 2_900_000), Point(540_000, 2_900_000), Point(800_000, 2_900_000)],
                             crs=CRS).to_crs(4326)
    return line, towns


def test_short_trips_need_no_highway_charging_and_totals_scale_with_population():
    line, towns = _inputs()
    p = HighwayParams(range_km=200, range_derate=1.0, max_gap_km=50, gravity_beta=2, ev_share=1.0,
                      gravity_trips_per_1000_pop=5)
    res = plan_highway(p, expressways=line, settlements=towns)
    od = res.od_flows.set_index("od_id")
    pairs = {frozenset((o, d)) for o, d in zip(od["origin"], od["destination"], strict=True)}
    # A–B is 40 km: its round trip (80 km) fits the 200 km range, so it is left out (threshold 100 km)
    assert pairs == {frozenset("AC"), frozenset("BC")}
    # gravity shares by hand with beta = 2: g_AB = 1/40², g_AC = 1/300², g_BC = 1/260² (equal populations);
    # total trips = 5 per 1,000 residents × 3,000,000 = 15,000 a day
    g = np.array([1 / 40**2, 1 / 300**2, 1 / 260**2])
    expected = 15_000 * g[1:].sum() / g.sum()
    assert od["volume"].sum() == pytest.approx(expected, rel=1e-6)


def test_min_charging_trip_can_be_set():
    line, towns = _inputs()
    p = HighwayParams(range_km=200, range_derate=1.0, max_gap_km=50, gravity_beta=2, min_charging_trip_km=0)
    res = plan_highway(p, expressways=line, settlements=towns)
    assert len(res.od_flows) == 3


def test_k_alternative_paths_split_the_flow():
    """k_paths = 2 on a ring: the OD flow is split equally over the two routes around it."""
    # a 100 km × 20 km rectangle of expressway; A at the west corner, B at the east corner: two routes
    # of 120 km each (north side and south side)
    x0, y0 = 500_000, 2_900_000
    nw, ne, se, sw = (x0, y0 + 20_000), (x0 + 100_000, y0 + 20_000), (x0 + 100_000, y0), (x0, y0)
    lines = gpd.GeoDataFrame({"name": ["N", "E", "S", "W"]},
                             geometry=[LineString([nw, ne]), LineString([ne, se]), LineString([se, sw]),
                                       LineString([sw, nw])], crs=CRS)
    towns = gpd.GeoDataFrame({"settlement_id": ["A", "B"], "name": ["A", "B"], "population": [POP, POP]},
                             geometry=[Point(*sw), Point(*ne)], crs=CRS).to_crs(4326)
    p = HighwayParams(range_km=200, range_derate=1.0, max_gap_km=200, gravity_beta=2, k_paths=2,
                      min_charging_trip_km=0, gravity_daily_trips=1000, ev_share=1.0)
    res = plan_highway(p, expressways=lines, settlements=towns)
    od = res.od_flows
    assert len(od) == 2  # one OD pair, two routes
    assert od["volume"].to_numpy() == pytest.approx([500.0, 500.0])
    assert od["length_km"].to_numpy() == pytest.approx([120.0, 120.0], rel=1e-6)
