"""Formulation regressions of the highway and hydrogen tiers (issue 9, errors 1, 2 and 7).

Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

gpd = pytest.importorskip("geopandas")
from shapely.geometry import LineString, Point  # noqa: E402

from gzcharge.highway.corridors import corridors_from_edges, gap_stretches, station_free_stretches  # noqa: E402
from gzcharge.highway.model import gap_windows, plan_highway, prepare_highway, solve_highway  # noqa: E402
from gzcharge.highway.params import HighwayParams  # noqa: E402
from gzcharge.highway.traffic import build_traffic  # noqa: E402

CRS = "EPSG:4544"
X0, Y0 = 500_000.0, 2_900_000.0


# ---------------------------------------------------------------- error 1: access legs
def _access_case(sa_km: float):
    # a 150 km expressway along x (km 0 at X0); towns A and B 25 km beyond each end (access legs of 25 km,
    # straight line to the nearest corridor point, the ends); one candidate service area at km sa_km
    line = gpd.GeoDataFrame({"ref": ["G1"]}, geometry=[LineString([(X0, Y0), (X0 + 150_000, Y0)])], crs=CRS)
    towns = gpd.GeoDataFrame({"settlement_id": ["A", "B"], "name": ["A", "B"], "population": [1e6, 1e6]},
                             geometry=[Point(X0 - 25_000, Y0), Point(X0 + 175_000, Y0)], crs=CRS).to_crs(4326)
    sa = gpd.GeoDataFrame({"name": [f"SA{sa_km:g}"]}, geometry=[Point(X0 + sa_km * 1000, Y0 + 20)], crs=CRS)
    # effective range 200 km, round trip; max gap 100 km: the 150 km corridor needs a site (a window from
    # either end passes 100 km), the one service area meets the rule (stretches sa_km and 150 − sa_km
    # <= 100) and no synthetic candidate is added
    params = HighwayParams(range_km=200, range_derate=1.0, max_gap_km=100, gravity_daily_trips=1000, ev_share=1.0)
    return params, dict(expressways=line, settlements=towns, service_areas=sa)


@pytest.mark.parametrize(("sa_km", "share"), [(50.0, 0.0), (75.0, 1.0)])
def test_access_legs_count_in_the_range(sa_km, share):
    # The project's round-trip convention (locate/_paths.py): the trip O→D→O repeats, the vehicle leaves the
    # seat with half a tank, so the first station must be within R/2 = 100 km of the origin seat, the last
    # within R/2 of the destination seat, and stations at most R apart. The trip is seat A → 25 km → km 0 →
    # 150 km → km 150 → 25 km → seat B: L = 200 km, a station at corridor km x sits at 25 + x on the trip.
    # * station at km 50 → 75 on the trip: 75 <= 100 but L − 75 = 125 > 100 → not refuelled (share 0; the
    #   corridor alone, 150 km with the station at 50, would say 50 <= 75 and 100 <= 100: refuelled).
    # * station at km 75 → 100 on the trip: 100 <= 100 and 200 − 100 = 100 <= 100 → refuelled (share 1).
    params, inputs = _access_case(sa_km)
    res = plan_highway(params, **inputs)
    assert list(res.highway_stations["name"]) == [f"SA{sa_km:g}"]
    od = res.od_flows
    assert len(od) == 1 and od["length_km"].iloc[0] == pytest.approx(150.0, abs=0.01)
    assert res.details["refuelled_share"] == pytest.approx(share)
    assert (res.never_served == ["A|B"]) == (share == 0.0)
    # the drawn trip starts and ends in the towns (access legs are part of the path)
    line = od.to_crs(CRS).geometry.iloc[0]
    assert line.length == pytest.approx(200_000, rel=1e-6)


def test_access_legs_in_hydrogen_sizing():
    # The same trip for fuel-cell trucks, R = 200 km (reserve 0), the station at km 75 (100 on the trip):
    # refuelled. Cycle of 400 km with the station met at 100 and 300: from 100 with a full tank the farthest
    # station within 200 km is the same site at 300, then the next round's 100 (= 500) is in reach: stops at
    # 100 and 300, each fuelling the 200 km to the next stop. Trucks: 1000 vehicles/day × 0.25 × 0.05 =
    # 12.5/day = 6.25 round trips; demand = 6.25 × 400 km × 8 kg/100 km = 200 kg/day (the corridor alone,
    # 300-km cycles, would give 150).
    from gzcharge.tiers.hydrogen import HydrogenParams, HydrogenPhase, plan_hydrogen

    params, inputs = _access_case(75.0)
    prep = prepare_highway(params, **inputs)
    hp = HydrogenParams(range_km=200, range_reserve_share=0.0, truck_share=0.25, hydrogen_share=0.05,
                        phases=[HydrogenPhase(name="all")])
    res = plan_hydrogen(prep.corridors, prep.traffic, prep.candidates, hp, crs=prep.corridors.crs)
    assert res.paths["refuelled"].all()
    assert res.paths["length_km"].iloc[0] == pytest.approx(200.0, abs=0.01)
    assert res.stations["demand_kg_day"].tolist() == pytest.approx([200.0], rel=1e-6)
    # with the station at km 50 the truck trip is not refuelled either (125 km > 100 to the far seat)
    params50, inputs50 = _access_case(50.0)
    prep50 = prepare_highway(params50, **inputs50)
    res50 = plan_hydrogen(prep50.corridors, prep50.traffic, prep50.candidates, hp, crs=prep50.corridors.crs)
    assert not res50.paths["refuelled"].any() and len(res50.stations) == 0


# ---------------------------------------------------------------- error 2: distinct routes, split by length
def _three_routes():
    # O = 1, D = 2; routes 1-3-2 and 1-4-2 of 10 + 10 = 20 km (tied) and 1-5-2 of 15 + 15 = 30 km
    import pandas as pd

    # (edge order as found to make Yen's first path 1-4-2: the old code then replaced it by the
    # lexicographic 1-3-2 and kept Yen's second path, 1-3-2 again, at half the flow each)
    edges = pd.DataFrame({"u": [1, 1, 4, 3, 1, 5], "v": [3, 4, 2, 2, 5, 2],
                          "length_km": [10.0, 10.0, 10.0, 10.0, 15.0, 15.0]})
    xy = {1: (X0, Y0), 2: (X0 + 20_000, Y0), 3: (X0 + 10_000, Y0 + 5_000), 4: (X0 + 10_000, Y0 - 5_000),
          5: (X0 + 10_000, Y0 + 12_000)}
    cg = corridors_from_edges(edges, xy, crs=CRS, source="three routes")
    towns = gpd.GeoDataFrame({"settlement_id": ["O", "D"], "name": ["O", "D"], "population": [1e6, 1e6]},
                             geometry=[Point(*xy[1]), Point(*xy[2])], crs=CRS)
    return cg, towns


def test_k_paths_gives_distinct_routes_split_by_length():
    # k = 2: the two tied 20 km routes, each half of the 1000 trips (the old code held one of them twice);
    # the 30 km route is 1.5 × the shortest, beyond the default deviation tolerance 1.2 anyway.
    cg, towns = _three_routes()
    p = HighwayParams(k_paths=2, gravity_daily_trips=1000, ev_share=1.0)
    od = build_traffic(cg, p, towns).od
    routes = sorted(tuple(q[1:-1]) for q in od["path"])  # corridor part (the towns sit on nodes 1 and 2)
    assert routes == [(1, 3, 2), (1, 4, 2)]
    assert od["flow"].tolist() == pytest.approx([500.0, 500.0])
    assert od["od_id"].is_unique and od["access_km"].tolist() == pytest.approx([0.0, 0.0])
    # k = 3 with the default tolerance: still the two tied routes only
    od3 = build_traffic(cg, p.model_copy(update={"k_paths": 3}), towns).od
    assert sorted(tuple(q[1:-1]) for q in od3["path"]) == [(1, 3, 2), (1, 4, 2)]
    # k = 3, tolerance 1.5 (the 30 km route is admitted), logit θ = 10: weights exp(−10 (L/20 − 1)) =
    # 1, 1, e^{-5} = 0.006737947; shares 1 / 2.006737947 = 0.498321 each and 0.006737947 / 2.006737947 =
    # 0.0033577 → flows 498.321 (twice) and 3.3577
    od_w = build_traffic(cg, p.model_copy(update={"k_paths": 3, "route_deviation_max": 1.5}), towns).od
    fl = dict(zip((tuple(q[1:-1]) for q in od_w["path"]), od_w["flow"], strict=True))
    assert fl[(1, 3, 2)] == pytest.approx(498.321, abs=1e-3) and fl[(1, 4, 2)] == pytest.approx(498.321, abs=1e-3)
    assert fl[(1, 5, 2)] == pytest.approx(3.3577, abs=1e-4)
    assert sum(fl.values()) == pytest.approx(1000.0)
    assert math.isclose(fl[(1, 5, 2)] / fl[(1, 3, 2)], math.exp(-5), rel_tol=1e-9)


# ---------------------------------------------------------------- error 7: ring roads
def _ring_with_spoke() -> nx.Graph:
    # ring 1-2-3-4-1 of 4 × 30 km; a spoke 1-0 of 10 km to a corridor end (node 0)
    g = nx.Graph()
    for u, v in ((1, 2), (2, 3), (3, 4), (4, 1)):
        g.add_edge(u, v, length_km=30.0)
    g.add_edge(0, 1, length_km=10.0)
    return g


def test_ring_road_stretch_agrees_with_gap_windows():
    # Only the end 0 has a site; every node is a candidate; G = 80 km.
    # A vehicle leaving the site at 0 drives 10 km to the ring, round it (120 km) and back to 0: 140 km
    # without a site. The old report measured shortest routes from the site (farthest ring point, node 3,
    # is 70 km away) and said 70 <= 80: gap_ok. The model's windows from 0 run 0-1-2-3 (70 km) and pass 80 km
    # on edge 3-4 without meeting the site: violated.
    g = _ring_with_spoke()
    cands = [0, 1, 2, 3, 4]
    old, _ = station_free_stretches(g, {0})
    assert max(old.values()) == pytest.approx(70.0)
    windows, unmet = gap_windows(g, cands, 80.0)
    assert unmet == []
    assert any(0 not in w for w in windows)  # some window has no open site: the rule is violated
    per_edge = gap_stretches(g, {0}, starts=cands, max_gap_km=80.0)
    assert set(per_edge) == {(0, 1), (1, 2), (2, 3), (3, 4), (1, 4)}
    assert all(v == pytest.approx(140.0) for v in per_edge.values())  # 10 + 120 + 10, every edge on that trip
    # Sites at 0, 1 and 3: every walk meets a site within 60 km (1→2→3, 1→4→3, 3→2→1, 3→4→1 are 60 km;
    # 0→1 is 10): all windows met and the report says <= 80 everywhere, 60 on the ring, 10 on the spoke.
    open_ = {0, 1, 3}
    assert all(open_ & set(w) for w in windows)
    per_edge = gap_stretches(g, open_, starts=cands, max_gap_km=80.0)
    assert per_edge[(0, 1)] == pytest.approx(10.0)
    assert all(per_edge[k] == pytest.approx(60.0) for k in ((1, 2), (2, 3), (3, 4), (1, 4)))


def test_ring_road_plan_reports_violation():
    # The same ring as a plan: one existing site at the end 0, gap rule off (enforce_gap=False: nothing opened
    # since there is no traffic). The segments layer must say gap_ok = False on the ring (140 > 80).
    import pandas as pd

    from gzcharge.highway.candidates import candidates_at_nodes
    from gzcharge.highway.model import assess_highway, prepare_highway_from
    from gzcharge.highway.traffic import traffic_from_paths

    g = _ring_with_spoke()
    edges = pd.DataFrame([(u, v, d["length_km"]) for u, v, d in g.edges(data=True)], columns=["u", "v", "length_km"])
    xy = {0: (X0 - 10_000, Y0), 1: (X0, Y0), 2: (X0 + 15_000, Y0 + 15_000), 3: (X0 + 30_000, Y0),
          4: (X0 + 15_000, Y0 - 15_000)}
    cg = corridors_from_edges(edges, xy, crs=CRS, source="ring")
    params = HighwayParams(max_gap_km=80, enforce_gap=False, range_km=200, range_derate=1.0)
    cs = candidates_at_nodes(cg, [1, 2, 3, 4], params, existing=[0])
    prep = prepare_highway_from(cs, traffic_from_paths(cs.corridors, [], []), params)
    res = assess_highway(prep, solve_highway(prep))
    seg = res.expressway_segments
    assert set(res.highway_stations["site_id"]) == {"N-0"}
    assert seg["longest_stretch_km"].max() == pytest.approx(140.0)
    assert not seg["gap_ok"].any()


# ---------------------------------------------------------------- tier contract
def test_highway_tier_alone_is_the_core_on_its_block():
    # min_cost mode is one core solve: the prepared block carries the flow target, so
    # solve_joint([prep.block], years=[2025]) gives the tier's own sites and objective. By hand: the one
    # service area (km 75, 2 M CNY) refuels the only pair (see test_access_legs_count_in_the_range).
    from gzcharge.locate.joint import solve_joint

    params, inputs = _access_case(75.0)
    params = params.model_copy(update={"mode": "min_cost", "target_flow_share": 1.0})
    prep = prepare_highway(params, **inputs)
    assert prep.block.name == "highway" and list(prep.sites["site_id"]) == list(prep.block.site_ids)
    assert prep.block.target_share == [1.0]
    own = solve_highway(prep, year=2025)
    core = solve_joint([prep.block], years=[2025], objective="min_cost")
    assert own.open_sites("highway") == core.open_sites("highway") == ["SA-0001"]
    assert own.objective == pytest.approx(core.objective) == pytest.approx(params.cost_service_area_cny)
    assert np.isclose(own.service["share"].iloc[0], 1.0)
