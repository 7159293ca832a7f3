"""Highway tier: corridors, candidates, gap windows, traffic, direct range checks, sizing.

Expected values are worked out by hand in the comments (or by an independent formula).
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from gzcharge.errors import DataError
from gzcharge.highway.params import HighwayParams
from tests.conftest import shared_path

gpd = pytest.importorskip("geopandas")
from shapely.geometry import LineString, Point  # noqa: E402

from gzcharge.highway.candidates import build_candidates, read_sites_csv  # noqa: E402
from gzcharge.highway.corridors import build_corridors, station_free_stretches  # noqa: E402
from gzcharge.highway.model import (  # noqa: E402
    erlang_c_plugs,
    gap_windows,
    plan_highway,
    refuel_stops,
    refuelled_direct,
)
from gzcharge.highway.traffic import build_traffic  # noqa: E402

CRS = "EPSG:4545"


def _line_graph(n_km: int, step_km: int) -> nx.Graph:
    g = nx.Graph()
    for i in range(n_km // step_km):
        g.add_edge(i, i + 1, length_km=float(step_km))
    return g


def _min_hitting_set_size(windows: list[list]) -> int:
    """Brute force: fewest nodes meeting every window (independent of the solver)."""
    import itertools

    nodes = sorted({n for w in windows for n in w})
    for k in range(0, len(nodes) + 1):
        for combo in itertools.combinations(nodes, k):
            s = set(combo)
            if all(s & set(w) for w in windows):
                return k
    raise AssertionError


# ---------------------------------------------------------------- params
def test_params_defaults_and_validation():
    p = HighwayParams()
    assert p.effective_range_km == pytest.approx(250 * 0.8)
    with pytest.raises(ValueError, match="synthetic_spacing_km"):
        HighwayParams(synthetic_spacing_km=60)
    with pytest.raises(ValueError, match="effective range"):
        HighwayParams(max_gap_km=250)
    with pytest.raises(ValueError, match="extra|Extra"):
        HighwayParams(max_gap=40)


# ---------------------------------------------------------------- straight corridor
@pytest.mark.parametrize(("gap", "expected"), [(50, 1), (30, 3), (20, 4), (10, 9)])
def test_straight_corridor_minimum_sites_for_gap(gap, expected):
    # 100 km corridor, candidates every 10 km at 10..90 (ends 0 and 100 are not candidates).
    # Stretches (end→site, site→site, site→end) must be ≤ G, so at least ceil(100/G) - 1 sites:
    # G=50: 1 (site at 50); G=30: ceil(3.33)-1 = 3 (30,60,90); G=20: 5-1 = 4 (20,40,60,80);
    # G=10: 10-1 = 9 (every candidate).
    g = _line_graph(100, 10)
    windows, unmet = gap_windows(g, list(range(1, 10)), gap)
    assert unmet == []
    assert _min_hitting_set_size(windows) == expected
    # and a hitting set meets the stretch rule measured independently
    sites = {int(round(x / 10)) for x in np.arange(gap, 100, gap) if x % 10 == 0} or {5}
    if all(sites & set(w) for w in windows):
        per_edge, _ = station_free_stretches(g, sites)
        assert max(per_edge.values()) <= gap + 1e-9


def test_gap_window_without_candidate_is_reported():
    # 0..100 km, only candidate at 10 km: the stretch 10 → 100 (90 km) cannot be met with G = 50
    g = _line_graph(100, 10)
    windows, unmet = gap_windows(g, [1], 50)
    assert unmet and any(u["start"] == 1 for u in unmet)


def test_stretches_on_y_network():
    # Y: hub 0, arms 0-1 (30 km), 0-2 (40 km), 0-3 (50 km); a site at the hub
    g = nx.Graph()
    g.add_edge(0, 1, length_km=30.0)
    g.add_edge(0, 2, length_km=40.0)
    g.add_edge(0, 3, length_km=50.0)
    per_edge, zones = station_free_stretches(g, {0})
    assert per_edge[(0, 1)] == 30 and per_edge[(0, 2)] == 40 and per_edge[(0, 3)] == 50
    # no site: longest stretch end-to-end is 40 + 50 = 90
    per_edge, _ = station_free_stretches(g, set())
    assert max(per_edge.values()) == 90


# ---------------------------------------------------------------- range checks
def test_direct_range_check_round_trip():
    path = list(range(11))  # 100 km in 10 km steps
    L = {(i, i + 1): 10.0 for i in range(10)}
    # one site at 50 km: cyclic round trip (200 km) meets it at 50 and 150 -> gaps 100, 100
    assert refuelled_direct(path, L, {5}, 100)
    assert not refuelled_direct(path, L, {5}, 99)
    # site at the origin only: met at 0 and 200 (same point) -> one gap of 200
    assert refuelled_direct(path, L, {0}, 200) and not refuelled_direct(path, L, {0}, 199)
    assert not refuelled_direct(path, L, set(), 1000)
    # greedy stops with sites at 20 and 80, range 150: charge at 20, reach 80 (60 km), then
    # 80 -> (back via 100) -> 80 is 40 km... the next stop: from 80 (km 80) the farthest site
    # within 150 km on the cycle is 80 on the way back (km 120), then 20 (km 180): stops 20, 80
    assert refuel_stops(path, L, {2, 8}, 150) == [2, 8]


def test_erlang_c_matches_textbook_formula():
    # M/M/c: λ = 10/h, session 30 min -> μ = 2/h, a = 5. Independent Erlang C from the
    # factorial form: C = (a^c/c! · c/(c-a)) / (Σ_{k<c} a^k/k! + a^c/c! · c/(c-a))
    def wq(c, lam=10.0, mu=2.0):
        a = lam / mu
        top = a**c / math.factorial(c) * c / (c - a)
        pw = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
        return pw / (c * mu - lam) * 60

    target = 10.0
    c_ref = next(c for c in range(6, 30) if wq(c) <= target)
    c, w = erlang_c_plugs(10.0, 30.0, target, 1)
    assert c == c_ref and w == pytest.approx(wq(c_ref))
    assert erlang_c_plugs(0.0, 30.0, 10.0, 2) == (2, 0.0)


# ---------------------------------------------------------------- corridors from lines
def test_corridors_merge_carriageways_and_reject_points():
    a = LineString([(0, 0), (20000, 0)])
    b = LineString([(20000, 30), (0, 30)])  # other carriageway 30 m away
    gdf = gpd.GeoDataFrame({"highway": ["motorway", "motorway"], "ref": ["G1", "G1"]}, geometry=[a, b], crs=CRS)
    cg = build_corridors(gdf, carriageway_merge_m=100)
    assert cg.length_km == pytest.approx(20.0, abs=0.01)
    bad = gpd.GeoDataFrame({"name": ["x", "y"]}, geometry=[Point(0, 0), a], crs=CRS)
    with pytest.raises(DataError, match="Point"):
        build_corridors(bad, source="roads.gpkg")


def test_user_layer_split_at_crossing_and_components():
    # two crossing lines (split at the crossing) and one far-away line (second component)
    lines = [LineString([(0, 0), (10000, 0)]), LineString([(5000, -5000), (5000, 5000)]),
             LineString([(50000, 0), (60000, 0)]), LineString([(0, 0), (10000, 0)])]  # duplicate
    gdf = gpd.GeoDataFrame(geometry=lines, crs=CRS)
    cg = build_corridors(gdf, carriageway_merge_m=0, endpoint_snap_m=50)
    assert cg.length_km == pytest.approx(30.0)
    assert [c["n_nodes"] for c in cg.components] == [5, 2]
    assert len(cg.nodes_of_kind("junction")) == 1


def test_candidates_snap_reject_and_synthetic(tmp_path):
    gdf = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (100000, 0)])], crs=CRS)
    cg = build_corridors(gdf, carriageway_merge_m=0)
    sa = gpd.GeoDataFrame({"name": ["a", "b", "far"]},
                          geometry=[Point(20000, 50), Point(30000, -30), Point(50000, 5000)], crs=CRS)
    cs = build_candidates(cg, HighwayParams(), service_areas=sa)
    assert list(cs.rejected["name"]) == ["far"]
    # service areas at 20 and 30 km; stretch 30 -> 100 (70 km) > 50: synthetic every 10 km
    # at 40..90 plus the corridor end at 100 = 7 synthetic sites
    assert int(cs.sites["synthetic"].sum()) == 7
    with pytest.raises(DataError, match="unknown highway candidate ids"):
        cs.node_of(["SA-0001", "XX-9"])
    p = tmp_path / "sites.csv"
    p.write_text("name,lon,lat,existing\nA,106.1,26.5,maybe\n", encoding="utf-8")
    with pytest.raises(DataError, match="existing"):
        read_sites_csv(p)


def test_traffic_gravity_on_y_network():
    # Y network (user lines, no interchanges): hub at the origin, arms of 100 km to a, b, c.
    # Populations 1, 2, 3 (×1e5), beta = 2, d = 200 km for every pair:
    # g_ab : g_ac : g_bc = 2 : 3 : 6 -> shares 2/11, 3/11, 6/11 of gravity_daily_trips.
    lines = [LineString([(0, 0), (-100000, 0)]), LineString([(0, 0), (0, 100000)]), LineString([(0, 0), (0, -100000)])]
    cg = build_corridors(gpd.GeoDataFrame(geometry=lines, crs=CRS), carriageway_merge_m=0)
    pts = gpd.GeoDataFrame({"settlement_id": ["a", "b", "c"], "name": ["a", "b", "c"], "population": [1e5, 2e5, 3e5]},
                           geometry=[Point(-100000, 0), Point(0, 100000), Point(0, -100000)], crs=CRS)
    params = HighwayParams(gravity_beta=2, gravity_daily_trips=11000, ev_share=0.1)
    t = build_traffic(cg, params, pts)
    f = {frozenset((r.origin, r.destination)): r.flow for r in t.od.itertuples()}
    assert f[frozenset("ab")] == pytest.approx(2000) and f[frozenset("ac")] == pytest.approx(3000)
    assert f[frozenset("bc")] == pytest.approx(6000)
    assert t.od["length_km"].tolist() == pytest.approx([200.0] * 3)
    assert t.od["ev_flow"].sum() == pytest.approx(1100)


def test_no_expressway_data_skips_with_notice():
    res = plan_highway(HighwayParams())
    assert res.skipped and "--osm-file" in res.notice and "--expressways" in res.notice
    assert len(res.highway_stations) == 0


# ---------------------------------------------------------------- real OSM
def _kouvola_lines():
    osmium = pytest.importorskip("osmium")
    path = shared_path("osm", "kouvola_fi.osm.pbf")
    rows = []

    class H(osmium.SimpleHandler):
        def way(self, w):
            h = w.tags.get("highway")
            if h not in ("motorway", "motorway_link", "trunk", "trunk_link"):
                return
            run = []
            for n in [*w.nodes, None]:  # the extract is clipped: keep runs of located nodes
                if n is not None and n.location.valid():
                    run.append((n.location.lon, n.location.lat))
                    continue
                if len(run) > 1:
                    rows.append({"highway": h, "ref": w.tags.get("ref"), "geometry": LineString(run)})
                run = []

    H().apply_file(str(path), locations=True)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def test_kouvola_corridor_graph():
    lines = _kouvola_lines()
    assert (lines["highway"] == "motorway").sum() >= 2
    cg = build_corridors(lines, carriageway_merge_m=100)
    # two carriageways of ~2.15 km each (EPSG:3067 measure) merge into one corridor of ~2.16 km
    assert 2.0 < cg.length_km < 2.3
    assert len(cg.components) == 1
    assert cg.nodes_of_kind("interchange")
