"""Hydrogen tier: hand-checked straight corridors, supply rule, phases, sizing, bad sources.

Corridors are built in EPSG:4544 (CGCS2000 GK CM 105E, metres) so that straight-line supply
distances are exact; ``circuity = 1``, ``range_reserve_share = 0`` and ``range_km = 400``
give an effective range R = 400 km. Round-trip rule: stations on the path, first within
R/2 = 200 km of the origin, last within 200 km of the destination, gaps <= 400 km.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from gzcharge.errors import DataError
from gzcharge.region import get_region
from gzcharge.tiers.hydrogen import (
    HydrogenParams,
    HydrogenPhase,
    corridor_flows,
    plan_hydrogen,
    read_hydrogen_sources,
)

pytest.importorskip("gzcharge.locate.frlm")

CRS = "EPSG:4544"
X0, Y0 = 400_000.0, 2_930_000.0
TO_LL = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def _line(n_nodes: int = 7, ref: str = "G60") -> nx.Graph:
    """Nodes 0..n-1 every 100 km along x."""
    G = nx.Graph()
    for i in range(n_nodes):
        G.add_node(i, x=X0 + 100_000.0 * i, y=Y0)
    for i in range(n_nodes - 1):
        G.add_edge(i, i + 1, length_km=100.0, ref=ref, segment=0)
    return G


def _params(**kw) -> HydrogenParams:
    base = dict(range_km=400.0, range_reserve_share=0.0, circuity=1.0,
                phases=[HydrogenPhase(name="all")])
    base.update(kw)
    return HydrogenParams(**base)


def _source_west_of_node0(km: float = 5.0) -> pd.DataFrame:
    lon, lat = TO_LL.transform(X0 - km * 1000.0, Y0)
    return pd.DataFrame({"name": ["H2-West"], "lon": [lon], "lat": [lat], "kind": ["by-product"]})


def _cands(nodes, cost=None) -> pd.DataFrame:
    df = pd.DataFrame({"node": list(nodes)}, index=[f"H{n}" for n in nodes])
    if cost:
        df["cost_cny"] = [cost.get(n, np.nan) for n in nodes]
    return df


FLOWS = pd.DataFrame({"od_id": ["P1", "P2", "P3"],
                      "path": [[0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6], [1, 2, 3]],
                      "truck_flow": [10.0, 10.0, 10.0]})


def test_radius_rule_excludes_far_sites_and_min_stations():
    # Source 5 km west of node 0; max_supply_km 350: node k is 5 + 100k km away -> nodes 0-3
    # allowed (5, 105, 205, 305), 4-6 excluded (405, 505, 605).
    # P1 (0→3, L 300) needs a station in [100, 200] km: node 1 or 2. P3 (1→3, L 200) any of 1-3.
    # P2 (0→6, L 600) needs one at >= 400 km: excluded, never refuelled. Node 2 costs more, so
    # the single cheapest station is node 1.
    res = plan_hydrogen(_line(), FLOWS, _cands(range(7), {2: 13e6}), _params(max_supply_km=350.0),
                        sources=_source_west_of_node0(), crs=CRS)
    assert sorted(res.excluded["site_id"]) == ["H4", "H5", "H6"]
    assert res.excluded["supply_km"].tolist() == pytest.approx([405.0, 505.0, 605.0])
    st = res.stations.set_index("site_id")
    assert list(st.index) == ["H1"]
    assert st.loc["H1", "supply_source"] == "H2-West"
    assert st.loc["H1", "supply_km"] == pytest.approx(105.0)
    paths = res.paths.set_index("od_id")
    assert paths["refuelled"].to_dict() == {"P1": True, "P2": False, "P3": True}
    assert any("P2" in n for n in res.notes)
    # Sizing: 10 trucks/day = 5 round trips per path, 8 kg/100 km.
    # P1 with a station at km 100: the cycle 0→3→0 (600 km) refuels at km 100 (out) and 500
    # (back): refills 400 + 200 = 600 km. P3 (cycle 400 km, station at its origin): 400 km.
    # kg/day = 5 × (600 + 400) × 0.08 = 400; 400 / 0.8 = 500 -> the 500 kg/day size;
    # the candidate's own cost (NaN -> size cost 12 M CNY).
    assert st.loc["H1", "demand_kg_day"] == pytest.approx(400.0)
    assert st.loc["H1", "capacity_kg_day"] == 500.0
    assert st.loc["H1", "cost_cny"] == pytest.approx(12e6)
    assert res.stations.crs.to_epsg() == 4326
    lon, lat = TO_LL.transform(X0 + 100_000.0, Y0)
    assert res.stations.geometry.iloc[0].x == pytest.approx(lon)
    assert res.stations.geometry.iloc[0].y == pytest.approx(lat)


def test_delivery_cost_rule_prices_distance():
    # Every site allowed, cost 12 M + 100,000 CNY/km × supply km: node k costs 12.5 + 10k M.
    # All three paths must be refuelled. P2 needs a station in [0, 200] and one in [400, 600]
    # at most 400 apart; P1 needs node 1 or 2 (or 0 and 3 together: then P2 needs a third).
    # Feasible pairs: {1,4}, {1,5}, {2,4}, {2,5}, {2,6}; cheapest {1,4} = 22.5 + 52.5 = 75 M.
    p = _params(supply_rule="delivery_cost", delivery_cny_per_km=100_000.0)
    res = plan_hydrogen(_line(), FLOWS, _cands(range(7)), p, sources=_source_west_of_node0(), crs=CRS)
    assert len(res.excluded) == 0
    st = res.stations.set_index("site_id")
    assert sorted(st.index) == ["H1", "H4"]
    assert res.phases.loc[0, "cost_cny"] == pytest.approx(75e6)
    assert res.paths["refuelled"].all()
    # Sizing. P2 cycle (1,200 km), stations at 100/1100 (node 1) and 400/800 (node 4):
    # stops 100, 400, 800, 1100 -> refills 300 (n1), 400 (n4), 300 (n4), 200 (n1).
    # node 1: 5 × (600 [P1] + 400 [P3] + 500 [P2]) × 0.08 = 600 kg/day -> 750 -> 1,000 kg/day
    #         size (15 M) + delivery 100,000 × 105 = 25.5 M
    # node 4: 5 × 700 × 0.08 = 280 kg/day -> 350 -> 500 kg/day (12 M) + 40.5 M = 52.5 M
    assert st.loc["H1", "demand_kg_day"] == pytest.approx(600.0)
    assert st.loc["H4", "demand_kg_day"] == pytest.approx(280.0)
    assert st.loc["H1", "capacity_kg_day"] == 1000.0
    assert st.loc["H4", "capacity_kg_day"] == 500.0
    assert st.loc["H1", "cost_cny"] == pytest.approx(25.5e6)
    assert st.loc["H4", "cost_cny"] == pytest.approx(52.5e6)
    # total kg = Σ round trips × 2L × 0.08 = 5 × (600 + 1200 + 400) × 0.08 = 880
    assert st["demand_kg_day"].sum() == pytest.approx(880.0)


def _two_corridors() -> nx.Graph:
    # G60: 0-1-2-3 along x (300 km); G75: 3-7-8 north from node 3 (200 km + 200 km)
    G = _line(4, "G60")
    G.add_node(7, x=X0 + 300_000.0, y=Y0 + 200_000.0)
    G.add_node(8, x=X0 + 300_000.0, y=Y0 + 400_000.0)
    G.add_edge(3, 7, length_km=200.0, ref="G75", segment=1)
    G.add_edge(7, 8, length_km=200.0, ref="G75", segment=1)
    return G


def test_phases_busiest_corridor_first():
    # PA (0→3 on G60, 100 trucks/day), PB (3→8 on G75, 10 trucks/day).
    # Corridor flow: G60 100 trucks/day over all its 300 km, G75 10 -> G60 is the busiest.
    # Phase 1 (sites on G60: nodes 0-3): PA needs node 1 or 2 (1 is cheaper); PB from node 3
    # alone fails (400 km to the destination > 200). Phase 2 (all): PB needs a station in
    # [200, 200] km of it, i.e. node 7.
    G = _two_corridors()
    flows = pd.DataFrame({"od_id": ["PA", "PB"], "path": [[0, 1, 2, 3], [3, 7, 8]], "truck_flow": [100.0, 10.0]})
    _, tab = corridor_flows(G, list(flows["path"]), flows["truck_flow"].to_numpy())
    assert tab["corridor"].tolist() == ["G60", "G75"]
    assert tab["mean_flow"].tolist() == pytest.approx([100.0, 10.0])
    p = _params(phases=[HydrogenPhase(name="p1", year=2023, top_corridors=1), HydrogenPhase(name="p2", year=2025)])
    res = plan_hydrogen(G, flows, _cands([0, 1, 2, 3, 7, 8], {1: 10e6, 2: 11e6, 7: 10e6}), p, crs=CRS)
    st = res.stations.set_index("site_id")
    assert st["phase"].to_dict() == {"H1": 1, "H7": 2}
    assert st["phase_year"].to_dict() == {"H1": 2023, "H7": 2025}
    assert res.paths.set_index("od_id")["phase"].tolist() == [1, 2]
    assert res.phases["refuelled_flow"].tolist() == pytest.approx([100.0, 110.0])
    assert res.phases["new_stations"].tolist() == [1, 1]
    assert any("supply rule was not applied" in n for n in res.notes)


def test_phase_with_station_limit_keeps_earlier_sites():
    # Phase 1 may open one station anywhere: PA (100) beats PB (10) -> node 1 or 2 (tie in
    # flow). Phase 2 one more: PB via node 7; phase-1 station stays open.
    G = _two_corridors()
    flows = pd.DataFrame({"od_id": ["PA", "PB"], "path": [[0, 1, 2, 3], [3, 7, 8]], "truck_flow": [100.0, 10.0]})
    p = _params(phases=[HydrogenPhase(name="p1", stations=1), HydrogenPhase(name="p2", stations=1)])
    res = plan_hydrogen(G, flows, _cands([0, 1, 2, 3, 7, 8]), p, crs=CRS)
    st = res.stations
    first = set(st.loc[st["phase"] == 1, "site_id"])
    assert len(first) == 1 and first <= {"H1", "H2"}
    assert set(st.loc[st["phase"] == 2, "site_id"]) == {"H7"}
    assert res.phases["refuelled_flow"].tolist() == pytest.approx([100.0, 110.0])


def test_source_radius_scope_and_derived_truck_flow():
    # flow 1,000 vehicles/day × truck_share 0.2 × hydrogen_share 0.05 = 10 trucks/day.
    # Phase 1 limited to 150 km of the source: nodes 0 (5 km) and 1 (105 km). P1 (0→3) is
    # refuelled by node 1; phase 2 (radius rule 700 km: all allowed) adds what P2 needs.
    flows = FLOWS.drop(columns="truck_flow").assign(flow=1000.0)
    p = _params(truck_share=0.2, hydrogen_share=0.05, max_supply_km=700.0,
                phases=[HydrogenPhase(name="near source", source_radius_km=150.0), HydrogenPhase(name="rest")])
    res = plan_hydrogen(_line(), flows, _cands(range(7)), p, sources=_source_west_of_node0(), crs=CRS)
    assert res.paths["truck_flow"].tolist() == pytest.approx([10.0, 10.0, 10.0])
    st = res.stations
    assert set(st.loc[st["phase"] == 1, "site_id"]) == {"H1"}
    # phase 2: with node 1 open, P2 needs one more station in [400, 500] km: node 4 or 5
    assert len(st.loc[st["phase"] == 2]) == 1
    assert set(st.loc[st["phase"] == 2, "site_id"]) <= {"H4", "H5"}
    assert res.paths["refuelled"].all()


def test_existing_station_is_phase_zero():
    cands = _cands(range(7))
    cands["existing"] = [n == 1 for n in range(7)]
    res = plan_hydrogen(_line(), FLOWS.iloc[[0, 2]], cands, _params(), crs=CRS)
    st = res.stations.set_index("site_id")
    assert list(st.index) == ["H1"]  # node 1 alone refuels P1 and P3
    assert st.loc["H1", "phase"] == 0
    assert st.loc["H1", "cost_cny"] == 0.0


# ------------------------------------------------------------------------ bad inputs
def test_sources_outside_region_named(tmp_path):
    region = get_region("安顺市")
    p = tmp_path / "h2.csv"
    p.write_text("name,lon,lat,kind\n安顺焦化,105.95,26.25,by-product\n贵阳电解,106.63,26.65,electrolysis\n",
                 encoding="utf-8")
    with pytest.raises(DataError, match=r"1 hydrogen source\(s\) lie outside region 安顺市: 贵阳电解"):
        read_hydrogen_sources(p, region)
    ok = read_hydrogen_sources(p)  # no region: accepted
    assert ok["name"].tolist() == ["安顺焦化", "贵阳电解"]


@pytest.mark.parametrize(
    "body, match",
    [
        ("name,lon\nA,105\n", r"missing column\(s\) lat"),
        ("name,lon,lat\nA,105.9,26.2\nB,abc,26.2\n", r"not degrees on line\(s\) 3"),
        ("name,lon,lat\nA,105.9,26.2\nA,105.8,26.2\n", r"duplicate source names A"),
    ],
)
def test_source_file_errors(tmp_path, body, match):
    p = tmp_path / "h2.csv"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        read_hydrogen_sources(p)


def test_bad_candidates_and_paths():
    with pytest.raises(DataError, match="not in the corridor graph"):
        plan_hydrogen(_line(), FLOWS, _cands([1, 99]), _params(), crs=CRS)
    bad = pd.DataFrame({"od_id": ["X"], "path": [[0, 2]], "truck_flow": [1.0]})
    with pytest.raises(DataError, match=r"path X uses edge \(0, 2\)"):
        plan_hydrogen(_line(), bad, _cands([1]), _params(), crs=CRS)
    with pytest.raises(ValueError):
        HydrogenParams(range_km=50)
    with pytest.raises(ValueError):
        HydrogenParams(colour=1)


# ------------------------------------------------------------------------ tier contract
def test_one_phase_tier_is_the_core_on_its_block():
    # One min-cost phase over every site: the prepared block carries the phase's target (the whole
    # refuellable flow: P1 and P3, 20 of 30 trucks/day — P2 needs a site beyond the 350 km radius), so
    # solve_joint([prep.block], years=[label]) is the tier's plan: node 1 alone (12 M; node 2 costs 13 M).
    from gzcharge.locate.joint import solve_joint
    from gzcharge.tiers.hydrogen import assess_hydrogen, prepare_hydrogen, solve_hydrogen

    prep = prepare_hydrogen(_line(), FLOWS, _cands(range(7), {2: 13e6}), _params(max_supply_km=350.0),
                            sources=_source_west_of_node0(), crs=CRS)
    assert prep.block.name == "hydrogen" and list(prep.sites["site_id"]) == list(prep.block.site_ids)
    assert prep.block.target_share[0] == pytest.approx(20 / 30, rel=1e-6)
    own = solve_hydrogen(prep)
    core = solve_joint([prep.block], years=[1], objective="min_cost")
    assert own.open_sites("hydrogen") == core.open_sites("hydrogen") == ["H1"]
    assert own.objective == pytest.approx(core.objective) == pytest.approx(12e6)
    res = assess_hydrogen(prep, own)
    assert res.stations["site_id"].tolist() == ["H1"] and res.stations["phase"].tolist() == [1]


def test_no_site_passes_the_supply_rule():
    # Every candidate is more than 1 km from the source (node 0 is 5 km away): nothing can be opened,
    # stated in the notes, no path refuelled.
    res = plan_hydrogen(_line(), FLOWS, _cands(range(7)), _params(max_supply_km=1.0), sources=_source_west_of_node0(),
                        crs=CRS)
    assert len(res.stations) == 0 and len(res.excluded) == 7
    assert not res.paths["refuelled"].any()
    assert any("no hydrogen candidate passes the supply rule" in n for n in res.notes)
