"""Highway tier: corridors, candidates, gap windows, traffic, direct range checks, sizing.

Expected values are worked out by hand in the comments (or by an independent formula).
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from gzcharge.errors import DataError, InfeasibleError
from gzcharge.highway.params import HighwayParams
from tests.conftest import shared_path

gpd = pytest.importorskip("geopandas")
from shapely.geometry import LineString, Point  # noqa: E402

from gzcharge.highway.candidates import build_candidates, read_sites_csv  # noqa: E402
from gzcharge.highway.corridors import build_corridors, station_free_stretches  # noqa: E402
from gzcharge.highway.model import (  # noqa: E402
    assess_highway,
    erlang_c_plugs,
    gap_windows,
    plan_highway,
    prepare_highway_from,
    solve_highway,
)
from gzcharge.highway.traffic import build_traffic  # noqa: E402
from gzcharge.locate.frlm import path_refuelled as refuelled_direct  # noqa: E402
from gzcharge.locate.frlm import path_stops  # noqa: E402


def refuel_stops(path, lengths, open_nodes, R, *, round_trip=True):
    """Stop nodes of one trip (the core's stop rule)."""
    return [n for n, _km in path_stops(path, lengths, open_nodes, R, round_trip=round_trip)]


def solve_from(cands, traffic, params, **kw):
    """The tier alone from a candidate set and traffic: prepare, solve through the core, assess."""
    prep = prepare_highway_from(cands, traffic, params, **kw)
    return assess_highway(prep, solve_highway(prep))

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
    # service areas at 20 and 30 km; stretch 30 -> 100 (70 km) > 50: the 70 km piece is cut into 7 pieces of
    # 10 km, synthetic sites at 40..90 (6); with them open the longest stretch is 0 -> 20 (20 km) and 90 -> the
    # end at 100 is 10 km, so the end itself is not needed (the first rule also took every node of the zone)
    assert sorted(round(cs.corridors.graph.nodes[n]["x"] / 1000) for n in cs.sites.loc[cs.sites["synthetic"], "node"]) \
        == [40, 50, 60, 70, 80, 90]
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


# ================================================================ independent checkers
def _fuel_ok(open_km: list[float], L: float, R: float, round_trip: bool) -> bool:
    """Drive the trip with a tank: refill to full at every open site passed.

    Round trip: leave the origin with R/2, drive O→D→O, and be back with at least R/2 (so the
    trip can be repeated). One way: leave with a full tank and reach D. Independent of the
    code's rule (no formula for the ends).
    """
    if round_trip:
        events = sorted(open_km) + sorted((2 * L - x for x in open_km), key=float)
        total, fuel = 2 * L, R / 2
    else:
        events, total, fuel = sorted(open_km), L, R
    pos = 0.0
    for x in [*events, total]:
        fuel -= x - pos
        if fuel < -1e-9:
            return False
        pos = x
        if x < total or (round_trip and x == total and x in events):
            fuel = R if x in events else fuel
    return fuel >= (R / 2 - 1e-9 if round_trip else -1e-9)


def _stretches_by_walking(lines_m, station_pts_m, tol_m: float = 1.0) -> float:
    """Longest station-free stretch of a line network, walked with shapely (no gzcharge code).

    The lines are merged (``line_merge``), cut at every station (points within ``tol_m``),
    and the pieces form a graph on rounded end points. From every terminal (station or dead
    end) every simple path is walked until it meets a station or a dead end; the longest
    such walk is returned.
    """
    import shapely

    merged = shapely.get_parts(shapely.line_merge(shapely.union_all(list(lines_m))))
    g = nx.Graph()
    stations = set()

    def key(p):
        return (round(p[0], 1), round(p[1], 1))

    for ln in merged:
        near = [p for p in station_pts_m if ln.distance(p) <= tol_m]
        cuts = sorted({0.0, ln.length, *(ln.project(p) for p in near)})
        for p in near:
            stations.add(key(ln.interpolate(ln.project(p)).coords[0]))
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            if b - a < 1e-6:
                continue
            pa, pb = ln.interpolate(a).coords[0], ln.interpolate(b).coords[0]
            g.add_edge(key(pa), key(pb), w=(b - a))
    terms = [n for n in g if n in stations or g.degree(n) == 1]
    best = 0.0
    for t in terms:
        stack = [(t, 0.0, {t})]
        while stack:
            n, d, seen = stack.pop()
            best = max(best, d)
            if n != t and (n in stations or g.degree(n) == 1):
                continue
            for w in g.neighbors(n):
                if w not in seen:
                    stack.append((w, d + g.edges[n, w]["w"], seen | {w}))
    return best


def _plan_result_gap_ok(res, crs, G_km: float) -> float:
    segs = res.expressway_segments.to_crs(crs)
    pts = list(res.highway_stations.to_crs(crs).geometry)
    longest_m = _stretches_by_walking(list(segs.geometry), pts)
    assert longest_m <= G_km * 1000 + 1.0, f"longest station-free stretch {longest_m:.0f} m > {G_km} km"
    return longest_m


def test_direct_range_check_matches_fuel_simulation():
    # random paths and open sets: the closed-form rule equals driving with a tank
    rng = np.random.default_rng(3)
    for _ in range(400):
        n = int(rng.integers(2, 9))
        steps = rng.uniform(5, 60, n - 1).round(0)
        path = list(range(n))
        L = {(i, i + 1): float(s) for i, s in enumerate(steps)}
        pos = np.r_[0, np.cumsum(steps)]
        open_ = {i for i in range(n) if rng.random() < 0.4}
        R = float(rng.choice([40, 60, 100, 150]))
        for rt in (True, False):
            expect = _fuel_ok([float(pos[i]) for i in open_], float(pos[-1]), R, rt)
            assert refuelled_direct(path, L, open_, R, round_trip=rt) == expect, (steps, open_, R, rt)


def test_one_way_rule_full_tank_at_origin():
    path = [0, 1, 2]
    L = {(0, 1): 80.0, (1, 2): 80.0}
    # one way, range 100: no site -> 160 > 100 fails; site at 80 -> 80, 80 OK (no site needed at O)
    assert not refuelled_direct(path, L, set(), 100, round_trip=False)
    assert refuelled_direct(path, L, {1}, 100, round_trip=False)
    assert refuelled_direct([0, 1], L, set(), 100, round_trip=False)  # 80 km <= range, no site
    # round trip, range 100: site at 80 -> 80 > 100/2 from the origin: fails; range 160 passes
    assert not refuelled_direct(path, L, {1}, 100) and refuelled_direct(path, L, {1}, 160)
    # one way stops: each direction leaves full, one stop at 80 km
    assert refuel_stops(path, L, {1}, 100, round_trip=False) == [1]


# ================================================================ solved plans (frlm core)
def _straight(tmp_crs=CRS):
    from gzcharge.highway.traffic import Traffic

    gdf = gpd.GeoDataFrame({"ref": ["G60"]}, geometry=[LineString([(0, 0), (100000, 0)])], crs=tmp_crs)
    cg = build_corridors(gdf, carriageway_merge_m=0)
    sa = gpd.GeoDataFrame({"name": [f"SA{k}" for k in range(10, 100, 10)]},
                          geometry=[Point(k * 1000, 20) for k in range(10, 100, 10)], crs=tmp_crs)
    return cg, sa, Traffic(pd.DataFrame(columns=["od_id", "path", "ev_flow", "flow"]), pd.DataFrame(), [])


pd = pytest.importorskip("pandas")


@pytest.mark.parametrize(("gap", "expected"), [(50, 1), (30, 3), (20, 4), (15, 9), (10, 9)])
def test_straight_corridor_solved_minimum(gap, expected):
    # 100 km corridor, service areas every 10 km at 10..90 km, no traffic: the gap rule alone.
    # Stretches end→site, site→site, site→end must be ≤ G. With sites only at multiples of 10
    # the longest usable step is s = 10·floor(G/10) and the fewest sites is ceil(100 / s) − 1:
    # G=50: s=50 → 2−1 = 1 (at 50); G=30: s=30 → ceil(3.33)−1 = 3 (30, 60, 90);
    # G=20: s=20 → 5−1 = 4 (20, 40, 60, 80); G=15 and G=10: s=10 → 10−1 = 9 (every site).
    cg, sa, tr = _straight()
    params = HighwayParams(max_gap_km=gap, synthetic_spacing_km=min(10, gap))
    cs = build_candidates(cg, params, service_areas=sa)
    assert int(cs.sites["synthetic"].sum()) == 0
    res = solve_from(cs, tr, params)
    assert len(res.highway_stations) == expected
    assert res.details["status"] == "optimal"
    longest = _plan_result_gap_ok(res, CRS, gap)
    assert res.expressway_segments["longest_stretch_km"].max() == pytest.approx(longest / 1000, abs=1e-3)


def _y_network():
    # Y: hub at (0, 0), arms of 100 km to a (west), b (north), c (south); service areas at
    # 50 km on each arm. Populations 1, 2, 3 (×1e5), beta 2, every pair 200 km apart:
    # g_ab : g_ac : g_bc = 2 : 3 : 6 of 11,000 trips/day -> 2000, 3000, 6000; EV share 0.1 ->
    # EV flows ab 200, ac 300, bc 600 (total 1100).
    lines = [LineString([(0, 0), (-100000, 0)]), LineString([(0, 0), (0, 100000)]),
             LineString([(0, 0), (0, -100000)])]
    cg = build_corridors(gpd.GeoDataFrame(geometry=lines, crs=CRS), carriageway_merge_m=0)
    pts = gpd.GeoDataFrame({"settlement_id": ["a", "b", "c"], "name": ["a", "b", "c"],
                            "population": [1e5, 2e5, 3e5]},
                           geometry=[Point(-100000, 0), Point(0, 100000), Point(0, -100000)], crs=CRS)
    sa = gpd.GeoDataFrame({"name": ["A50", "B50", "C50"]},
                          geometry=[Point(-50000, 0), Point(0, 50000), Point(0, -50000)], crs=CRS)
    return cg, pts, sa


def _y_plan(**kw):
    cg, pts, sa = _y_network()
    base = dict(range_km=160, range_derate=1.0, max_gap_km=150, gravity_beta=2, gravity_daily_trips=11000,
                ev_share=0.1, peak_hour_factor=0.1, session_min=30, wait_target_min=10, min_plugs=1,
                holiday_peak_factor=1.0)  # the hand sizing below is for the average day
    params = HighwayParams(**{**base, **kw})
    cs = build_candidates(cg, params, service_areas=sa)
    tr = build_traffic(cs.corridors, params, pts)
    return solve_from(cs, tr, params), params


@pytest.mark.parametrize(("p", "flow", "names"), [(1, 0.0, set()), (2, 600.0, {"B50", "C50"}),
                                                   (3, 1100.0, {"A50", "B50", "C50"})])
def test_y_network_max_flow_by_hand(p, flow, names):
    # Range 160, round trip: first site ≤ 80 km from the origin, last ≤ 80 km from the
    # destination, gaps ≤ 160. The hub is 100 km from every end, so a pair u-v is refuelled
    # only with both its arm sites (50 km from each end, 100 km apart). p=1: nothing;
    # p=2: the best pair is bc (600); p=3: all 1100. Gap 150: from each end the 150 km window
    # reaches its own arm site (50) and the hub (100) — with sites at B50, C50 the stretch
    # a → B50 is 150 km (= G, allowed) so p=2 meets the gap rule; p=1 does not (a → B50 via
    # hub 150, but B50 … c end 150: with one site at B50 the stretch a-hub-c is 200 > 150).
    if p == 1:
        with pytest.raises(InfeasibleError, match="at least 2 new sites"):
            _y_plan(stations=p)
        res, _ = _y_plan(stations=p, enforce_gap=False)
    else:
        res, _ = _y_plan(stations=p)
    assert res.details["refuelled_ev_flow"] == pytest.approx(flow)
    assert set(res.highway_stations["name"]) == names or p == 1
    if p > 1:
        _plan_result_gap_ok(res, CRS, 150)


def test_y_network_sizing_by_hand():
    # All three sites, range 160. Round trip a-b: cycle of 400 km with sites at 50 (A), 150 (B),
    # 250 (B back), 350 (A back); from A with a full tank the farthest reachable site is B
    # (100 km), then B back (100), A back (100), A again: 4 stops (A, B, B, A) — 3 is
    # impossible since 400 / 3 > 100-km steps would need a 200-km hop. Same for ac, bc.
    # Round trips/day = EV flow / 2: ab 100, ac 150, bc 300.
    # Sessions/day: A = 2·100 + 2·150 = 500; B = 2·100 + 2·300 = 800; C = 2·150 + 2·300 = 900.
    # Peak hour 10 %: λ = 50, 80, 90 /h; μ = 2 /h (30 min); plugs = smallest c with Erlang-C
    # wait ≤ 10 min (independent factorial formula below).
    res, _ = _y_plan(stations=3)
    st = res.highway_stations.set_index("name")
    assert st.loc[["A50", "B50", "C50"], "sessions_per_day"].tolist() == pytest.approx([500, 800, 900])

    def wq(c, lam, mu=2.0):
        a = lam / mu
        top = a**c / math.factorial(c) * c / (c - a)
        return top / (sum(a**k / math.factorial(k) for k in range(c)) + top) / (c * mu - lam) * 60

    for nm, lam in (("A50", 50.0), ("B50", 80.0), ("C50", 90.0)):
        c_ref = next(c for c in range(int(lam / 2) + 1, 200) if wq(c, lam) <= 10)
        assert st.at[nm, "plugs"] == c_ref
        assert st.at[nm, "kw"] == c_ref * 120


@pytest.mark.parametrize(("share", "n_sites"), [(0.5, 2), (0.6, 3)])
def test_y_network_min_cost_by_hand(share, n_sites):
    # min_cost, gap rule off: share 0.5 needs 550 of 1100 -> pair bc (600) alone: 2 sites;
    # share 0.6 needs 660 -> two pairs -> all 3 sites.
    res, _ = _y_plan(mode="min_cost", target_flow_share=share, enforce_gap=False)
    assert len(res.highway_stations) == n_sites
    assert res.details["refuelled_ev_flow"] >= share * 1100 - 1e-9


def test_range_below_unavoidable_gap_names_pairs():
    # Range 95: a round trip needs its first site ≤ 47.5 km from the origin, but the nearest
    # candidate to every end is its arm site at 50 km -> no pair can ever be served, whatever
    # is opened. All three pairs are named (ids "origin|destination", origin = smaller node);
    # min_cost with a flow target fails naming them.
    res, _ = _y_plan(stations=3, range_km=95, max_gap_km=90, enforce_gap=False)
    pairs = {frozenset(i.split("|")) for i in res.never_served}
    assert pairs == {frozenset("ab"), frozenset("ac"), frozenset("bc")}
    assert "can never be served" in res.notice and "a|b" in res.notice
    assert not res.od_flows["refuelled"].any() and res.od_flows["never_servable"].all()
    with pytest.raises(InfeasibleError, match=r"can never be served: .*a\|b") as ei:
        _y_plan(mode="min_cost", target_flow_share=0.5, range_km=95, max_gap_km=90, enforce_gap=False)
    assert sorted(ei.value.unserved) == sorted(res.never_served)


def test_unknown_fixed_open_ids():
    cg, sa, tr = _straight()
    params = HighwayParams()
    cs = build_candidates(cg, params, service_areas=sa)
    with pytest.raises(DataError, match="unknown highway candidate ids: .*XX-1"):
        solve_from(cs, tr, params, fixed_open=["SA-0001", "XX-1"])
    # a forced site is kept even though one site at 50 km would do
    res = solve_from(cs, tr, params, fixed_open=["SA-0001"])
    assert "SA-0001" in set(res.highway_stations["site_id"])
    _plan_result_gap_ok(res, CRS, 50)


def test_user_layer_with_sites_csv_and_prefectures(tmp_path):
    # two 100 km corridors in two "prefectures" (west/east halves); service areas every 10 km
    # from a CSV; the corridor crosses the border at x = 50 km: reported per prefecture.
    from shapely.geometry import box

    lines = gpd.GeoDataFrame({"ref": ["G1"]}, geometry=[LineString([(500000, 2900000), (600000, 2900000)])], crs=CRS)
    lp = tmp_path / "lines.gpkg"
    lines.to_file(lp)
    pts = gpd.GeoSeries([Point(500000 + k * 1000, 2900010) for k in range(10, 100, 10)], crs=CRS).to_crs(4326)
    rows = "\n".join(f"SA{k},{p.x:.7f},{p.y:.7f},{'yes' if k == 10 else 'no'}" for k, p in zip(range(10, 100, 10), pts, strict=True))
    sp = tmp_path / "sites.csv"
    sp.write_text("name,lon,lat,existing\n" + rows + "\n", encoding="utf-8")
    counties = gpd.GeoDataFrame({"name": ["w1", "e1"], "prefecture": ["西州", "东州"]},
                                geometry=[box(490000, 2890000, 550000, 2910000), box(550000, 2890000, 610000, 2910000)],
                                crs=CRS).to_crs(4326)

    class _Region:  # the attributes plan_highway reads from a Region
        boundary = counties.union_all()
        settlements = gpd.GeoDataFrame({"settlement_id": [], "name": [], "kind": [], "population": []},
                                       geometry=[], crs=4326)

    _Region.counties = counties
    # all_service_areas off: the hand case is the model's choice among the service areas
    res = plan_highway(HighwayParams(max_gap_km=31, all_service_areas=False), region=_Region(), expressways=lp,
                       service_areas=sp)
    # existing SA10 is open; G=31 (not 30: the CSV's 7-decimal degrees move sites by ~1 cm, so
    # keep the hand case off the boundary). Next site ≤ 41 → 40, then ≤ 71 → 70, and 70 → 100
    # is 30 ≤ 31: 2 new sites. One is not enough: it would have to be ≤ 41 and ≥ 69.
    st = res.highway_stations
    assert (st["status"] == "existing").sum() == 1 and (st["status"] == "new").sum() == 2
    assert set(st["name"]) == {"SA10", "SA40", "SA70"}
    _plan_result_gap_ok(res, CRS, 31)
    bp = res.by_prefecture.set_index("prefecture")
    assert bp.loc["西州", "corridor_km"] == pytest.approx(50, abs=0.01)
    assert bp.loc["东州", "corridor_km"] == pytest.approx(50, abs=0.01)
    assert bp["stations"].sum() == 3
    # stations' prefecture by their x: west of 550 km -> 西州
    x = st.to_crs(CRS).geometry.x
    assert (st["prefecture"] == np.where(x < 550000, "西州", "东州")).all()


# ================================================================ reference network through the corridor path
def _net25_instance():
    edges = pd.read_csv(shared_path("reference", "net25", "25-Node_Network_Edges.csv"), skipinitialspace=True)
    edges.columns = ["u", "v", "length_km"]
    flows = pd.read_csv(shared_path("reference", "net25", "25-Node_Network_Traffic_Flow.csv"), index_col=0)
    g = nx.Graph()
    g.add_weighted_edges_from(edges[["u", "v", "length_km"]].itertuples(index=False), weight="length")
    paths, f, ids = [], [], []
    for i in range(1, 26):
        for j in range(i + 1, 26):
            # explicit tie rule: the lexicographically smallest shortest path from the smaller id
            paths.append(min(nx.all_shortest_paths(g, i, j, weight="length")))
            f.append(float(flows.loc[i, str(j)]))
            ids.append(f"{i}-{j}")
    return edges, g, paths, np.array(f), ids


def _brute_best(paths, flows, lengths, nodes, p, R):
    import itertools

    best = 0.0
    for combo in itertools.combinations(nodes, p):
        s = set(combo)
        best = max(best, sum(fl for q, fl in zip(paths, flows, strict=True) if refuelled_direct(q, lengths, s, R)))
    return best


@pytest.mark.parametrize(("p", "R"), [(2, 12.0), (3, 16.0)])
def test_net25_through_corridor_code_path(p, R):
    from gzcharge.highway.candidates import candidates_at_nodes
    from gzcharge.highway.corridors import corridors_from_edges
    from gzcharge.highway.traffic import traffic_from_paths
    from gzcharge.locate.frlm import frlm

    edges, g, paths, flows, ids = _net25_instance()
    lay = nx.kamada_kawai_layout(g, weight="length")
    xy = {n: (600000 + 20000 * x, 2900000 + 20000 * y) for n, (x, y) in lay.items()}  # drawing only
    cg = corridors_from_edges(edges, xy, crs=CRS, source="net25")
    params = HighwayParams(range_km=R, range_derate=1.0, max_gap_km=R, synthetic_spacing_km=R, enforce_gap=False,
                           stations=p)
    cs = candidates_at_nodes(cg, list(range(1, 26)), params)
    tr = traffic_from_paths(cs.corridors, paths, flows, od_ids=ids)
    res = solve_from(cs, tr, params)
    lengths = {(u, v): w for u, v, w in edges[["u", "v", "length_km"]].itertuples(index=False)}
    core = frlm(paths, flows, lengths, R, p=p)
    # same objective as the core on the same explicit paths, and the brute-force optimum
    assert res.details["refuelled_ev_flow"] == pytest.approx(core.objective, rel=1e-9)
    assert res.details["refuelled_ev_flow"] == pytest.approx(_brute_best(paths, flows, lengths, list(range(1, 26)), p, R), rel=1e-9)
    # od_flows' refuelled flags = direct check of the chosen stations
    open_nodes = set(cs.sites.loc[res.highway_stations["site_id"], "node"])
    direct = [refuelled_direct(q, lengths, open_nodes, R) for q in paths]
    assert res.od_flows["refuelled"].tolist() == direct


# ================================================================ real OSM, solved
def test_kouvola_plan_gap_and_range_checked_independently(tmp_path):
    import json

    import shapely

    from gzcharge.region import Region

    osm = shared_path("osm", "kouvola_fi.osm.pbf")
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "code": "K1", "name": "Kouvola"}, "geometry": {"type": "Polygon", "coordinates": [[
            [26.93, 60.52], [26.97, 60.52], [26.97, 60.54], [26.93, 60.54], [26.93, 60.52]]]}}]}), encoding="utf-8")
    region = Region.from_file(area, code_field="code", name_field="name")
    # two OD points near the ends of the motorway (no census seats in a custom area), ~0.2 km and ~0.1 km
    # from their interchanges: the access legs count in the range (R/2 = 0.6 km at each end)
    pts = gpd.GeoDataFrame({"settlement_id": ["s", "n"], "name": ["south", "north"], "population": [1e4, 2e4]},
                           geometry=[Point(26.9466, 60.5206), Point(26.9615, 60.5320)], crs=4326)
    G, R = 0.5, 1.2  # km: scaled so that the ~2.2 km corridor needs several sites
    params = HighwayParams(max_gap_km=G, synthetic_spacing_km=0.2, range_km=R, range_derate=1.0,
                           seat_access_max_km=2, interchange_town_km=0)
    res = plan_highway(params, region=region, osm_file=osm, settlements=pts)
    assert not res.skipped and len(res.highway_stations) >= 4  # ceil(2.16 / 0.5) - 1 = 4 at least
    crs = "EPSG:3067"
    longest = _plan_result_gap_ok(res, crs, G)
    assert longest > 0.3 * 1000  # the walk really measured stretches
    assert res.by_prefecture["prefecture"].tolist() == ["Kouvola"]
    # every refuelled OD trip: drive it with a tank — access leg (straight line from the town to the first
    # corridor point of the drawn trip), the corridor geometry between the two interchanges, access leg
    line = shapely.line_merge(shapely.union_all(list(res.expressway_segments.to_crs(crs).geometry)))
    st = res.highway_stations.to_crs(crs)
    st_km = sorted(line.project(p) / 1000 for p in st.geometry)
    od = res.od_flows.to_crs(crs)
    assert len(od) == 1 and od["refuelled"].all()
    for geom in od.geometry:
        c = list(geom.coords)
        acc_o = shapely.Point(c[0]).distance(shapely.Point(c[1])) / 1000
        acc_d = shapely.Point(c[-1]).distance(shapely.Point(c[-2])) / 1000
        assert 0.1 < acc_o < 0.3 and 0.03 < acc_d < 0.2  # the trip really starts and ends in the towns
        a, b = (line.project(shapely.Point(p)) / 1000 for p in (c[1], c[-2]))
        lo, hi = min(a, b), max(a, b)
        on = [x - lo for x in st_km if lo - 1e-3 <= x <= hi + 1e-3]
        on = on if a <= b else [hi - lo - x for x in on]
        assert _fuel_ok([acc_o + x for x in on], acc_o + (hi - lo) + acc_d, R, True)


# ================================================================ interchange merging
def test_interchange_merge_rule():
    # a 20 km motorway along y = 0 with three ramp systems that do not touch each other:
    # two halves of one diamond at x = 5.0 and 5.3 km (300 m apart) and one at x = 12 km.
    main = LineString([(0, 0), (20000, 0)])
    ramps = [LineString([(4800, 0), (5000, 400)]), LineString([(5300, 400), (5500, 0)]),
             LineString([(11800, 0), (12000, 400), (12200, 0)])]
    gdf = gpd.GeoDataFrame({"highway": ["motorway", "motorway_link", "motorway_link", "motorway_link"]},
                           geometry=[main, *ramps], crs=CRS)
    # without merging: one interchange per ramp system (3); with the 1 km rule the diamond's
    # halves (their nodes ~0.3-0.7 km apart along the road) are one: 2 interchanges
    assert len(build_corridors(gdf, carriageway_merge_m=50, interchange_merge_m=0).nodes_of_kind("interchange")) == 3
    cg = build_corridors(gdf, carriageway_merge_m=50, interchange_merge_m=1000)
    ics = cg.nodes_of_kind("interchange")
    assert len(ics) == 2
    xs = sorted(cg.graph.nodes[n]["x"] for n in ics)
    assert 4800 <= xs[0] <= 5500 and xs[1] == pytest.approx(12000, abs=250)
    assert cg.length_km == pytest.approx(20.0, abs=1e-6)  # merging never changes lengths


def test_kouvola_interchanges_merged():
    # the Kouvola extract maps its two interchanges as 5 separate ramp systems (3 in the south
    # within ~0.2 km of each other, 2 in the north within ~0.1 km; the nearest members of the
    # two groups are 1.0 km apart in a straight line, EPSG:32635 coordinates (497249, 6709673)
    # and (497776, 6710527)): merged at 0.8 km -> 2 interchanges; not merged -> 5.
    lines = _kouvola_lines()
    assert len(build_corridors(lines, carriageway_merge_m=100, interchange_merge_m=0).nodes_of_kind("interchange")) == 5
    cg = build_corridors(lines, carriageway_merge_m=100, interchange_merge_m=800)
    assert len(cg.nodes_of_kind("interchange")) == 2
