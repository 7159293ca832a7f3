"""Battery-swap tier: hand-checked capacitated siting, fleet files, default fleets.

Depots sit around the 西秀区 seat (105.9617 E, 26.2488 N) inside 安顺市 (built-in region
pack, no shared data needed). Distances are given explicitly so the answers can be worked
out by hand; access cost rate ``a = 2 × deadhead_cny_per_km × horizon_days``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from shapely.geometry import Point

from gzcharge.distances import CostMatrix
from gzcharge.errors import DataError, InfeasibleError
from gzcharge.locate.joint import solve_joint
from gzcharge.region import get_region
from gzcharge.tiers.swap import (
    StationTypeParams,
    SwapModelData,
    SwapParams,
    SwapPrepared,
    assess_swap,
    default_fleets,
    fleet_demand_points,
    plan_swap,
    prepare_swap,
    read_fleet_file,
    solve_swap,
)

LON, LAT = 105.9617, 26.2488


@pytest.fixture(scope="module")
def anshun():
    return get_region("安顺市")


def _params(max_per_site: int = 1, **kw) -> SwapParams:
    base = SwapParams()
    st = dict(base.station_types)
    # no pack cost here: these cases check capacity, split service and access (packs: test_pack_cost_*)
    st["car"] = StationTypeParams(capacity_swaps_day=600, battery_stock=20, cost_cny=3_000_000,
                                  max_per_site=max_per_site, battery_turns_per_day=8, pack_cost_cny=0)
    # deadhead 0.5 CNY/km over 365 days: a = 2 × 0.5 × 365 = 365 CNY per (swap/day)·km
    return SwapParams(station_types=st, deadhead_cny_per_km=0.5, horizon_days=365, **{"min_utilisation": 0.0, **kw})


def _fleets() -> pd.DataFrame:
    # three taxi depots: A 400, B 300, C 500 swaps/day (vehicles × 1 swap/day)
    return pd.DataFrame({
        "fleet_id": ["A", "B", "C"], "fleet_type": ["taxi"] * 3, "vehicles": [400.0, 300.0, 500.0],
        "swaps_per_vehicle_day": [1.0, 1.0, 1.0],
        "lon": [LON, LON + 0.01, LON + 0.02], "lat": [LAT, LAT, LAT],
    })


def _sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"site_id": ["S1", "S2"]},
                            geometry=[Point(LON + 0.005, LAT), Point(LON + 0.015, LAT)], crs="EPSG:4326")


def _costs(table_km: dict) -> CostMatrix:
    df = pd.DataFrame(np.inf, index=["A", "B", "C"], columns=["S1", "S2"])
    for (i, j), km in table_km.items():
        df.loc[i, j] = km * 1000.0
    return CostMatrix.from_dataframe(df)


# taxi service distance is 5 km: A–S2 (8 km) and C–S1 (9 km) are out of reach
KM = {("A", "S1"): 2, ("A", "S2"): 8, ("B", "S1"): 3, ("B", "S2"): 4, ("C", "S1"): 9, ("C", "S2"): 1}


def test_min_cost_two_stations_split_depot(anshun):
    # Total 1,200 swaps/day = 2 × 600: both stations open. S1 can take A (400) + at most 200 of
    # B; S2 takes C (500) + at most 100 of B; B = 300 forces exactly 200/100.
    # Cost = 2 × 3,000,000 + 365 × (400·2 + 200·3 + 100·4 + 500·1) = 6,000,000 + 365 × 2,300
    #      = 6,839,500 CNY.
    res = plan_swap(anshun, _params(), fleets=_fleets(), candidates=_sites(), costs=_costs(KM))
    assert res.status == "optimal"
    assert res.objective == pytest.approx(6_839_500, rel=1e-6)
    assert res.station_cost_cny == pytest.approx(6_000_000)
    assert res.access_cost_cny == pytest.approx(839_500, rel=1e-6)
    st = res.stations.set_index("site_id")
    assert sorted(st.index) == ["S1", "S2"]
    assert st.loc["S1", "swaps_served"] == pytest.approx(600)
    assert st.loc["S2", "swaps_served"] == pytest.approx(600)
    a = res.assignment.set_index(["demand_id", "site_id"])["swaps_day"]
    assert a[("B", "S1")] == pytest.approx(200)
    assert a[("B", "S2")] == pytest.approx(100)
    assert a[("A", "S1")] == pytest.approx(400)
    assert a[("C", "S2")] == pytest.approx(500)
    # batteries: max(stock 20, ceil(600 × 1.2 / 8) = 90) = 90 per site
    assert st["batteries"].tolist() == [90, 90]
    assert res.stations.crs.to_epsg() == 4326
    assert set(res.demand["served_share"]) == {1.0}
    assert st.loc["S1", "fleets"] == "taxi"


def test_min_cost_two_stations_at_one_site(anshun):
    # S1 now reaches all three depots (A 2 km, B 3 km, C 4 km); S2 only C (1 km).
    # One station per site: S1 (600) must take A and all of B (B reaches nothing else):
    # 700 > 600 -> infeasible.
    km = {("A", "S1"): 2, ("B", "S1"): 3, ("C", "S1"): 4, ("C", "S2"): 1}
    with pytest.raises(InfeasibleError):
        plan_swap(anshun, _params(max_per_site=1), fleets=_fleets(), candidates=_sites(), costs=_costs(km))
    # Two per site: 2 at S1 (1,200 = total): 6,000,000 + 365 × (800 + 900 + 2,000) = 7,350,500.
    # 1 at S1 + 1 at S2 cannot take A + B = 700 at S1; 2 at S1 + 1 at S2 costs 9 M and saves
    # at most 365 × 500 × 3 = 547,500 of access. So the optimum is two stations at S1.
    res = plan_swap(anshun, _params(max_per_site=2), fleets=_fleets(), candidates=_sites(), costs=_costs(km))
    assert res.objective == pytest.approx(7_350_500, rel=1e-6)
    st = res.stations.set_index("site_id")
    assert list(st.index) == ["S1"]
    assert st.loc["S1", "n_stations"] == 2
    assert st.loc["S1", "capacity_swaps_day"] == pytest.approx(1200)


def test_max_served_under_budget(anshun):
    # Budget 3 M = one station. S1 serves A 400 + B 200 = 600; S2 serves C 500 + B 100 = 600.
    # Equal swaps; access cost breaks the tie: S1 400·2 + 200·3 = 1,400 vs S2 500·1 + 100·4 = 900
    # (swap·km/day) -> S2.
    res = plan_swap(anshun, _params(), fleets=_fleets(), candidates=_sites(), costs=_costs(KM),
                    mode="max_served", budget_cny=3_000_000)
    assert res.objective == pytest.approx(600, rel=1e-6)
    assert res.stations["site_id"].tolist() == ["S2"]
    served = res.demand.set_index("demand_id")["swaps_served"]
    assert served["C"] == pytest.approx(500)
    assert served["B"] == pytest.approx(100)
    assert served["A"] == pytest.approx(0)
    # budget below one station: nothing can be built
    res0 = plan_swap(anshun, _params(), fleets=_fleets(), candidates=_sites(), costs=_costs(KM),
                     mode="max_served", budget_cny=1_000_000)
    assert res0.objective == pytest.approx(0)
    assert len(res0.stations) == 0


def test_min_cost_over_budget_raises(anshun):
    with pytest.raises(InfeasibleError, match="budget"):
        plan_swap(anshun, _params(), fleets=_fleets(), candidates=_sites(), costs=_costs(KM), budget_cny=5_000_000)


def test_unreachable_depot_named(anshun):
    km = {("A", "S1"): 2, ("B", "S1"): 3, ("C", "S1"): 9}
    with pytest.raises(InfeasibleError, match="C") as exc:
        plan_swap(anshun, _params(), fleets=_fleets(), candidates=_sites(), costs=_costs(km))
    assert exc.value.unserved == ["C"]


def test_matches_core_p_median_random():
    """Second method: with one station per site and no pack cost the model is p_median's split-demand CFLP."""
    median = pytest.importorskip("gzcharge.locate.median")
    rng = np.random.default_rng(7)
    n, m = 25, 8
    dxy, sxy = rng.uniform(0, 10, (n, 2)), rng.uniform(0, 10, (m, 2))
    dist = np.hypot(*(dxy[:, None, :] - sxy[None, :, :]).transpose(2, 0, 1))
    dist[dist > 6.0] = np.inf
    dist[:, 0] = np.minimum(dist[:, 0], 6.0)  # every point reaches site 0
    swaps = rng.integers(20, 120, n).astype(float)
    cap, fcost, rate = 400.0, 1_000_000.0, 365.0
    rows, cols = [f"d{i}" for i in range(n)], [f"s{j}" for j in range(m)]
    ok = np.isfinite(dist)
    data = SwapModelData(
        demand_ids=pd.Index(rows), site_ids=pd.Index(cols), swaps=swaps, dtype_of=np.zeros(n, dtype=np.int64),
        type_names=["car"], capacity=np.array([cap]), unit_cost=np.array([fcost]), max_per_site=np.array([1]),
        dist_km=sp.csr_array((dist[ok], np.nonzero(ok)), shape=(n, m)),
        access_rate=rate,
    )
    prep = SwapPrepared(block=data.block(), sites=pd.DataFrame({"site_id": cols}), notes=[], demand=None,
                        candidates=None, cost=None, data=data, type_names=["car"])
    ours = solve_swap(prep, SwapParams(), mip_rel_gap=1e-9)
    cm = CostMatrix(pd.Index(rows), pd.Index(cols), sp.csr_array((dist[ok] * rate, np.nonzero(ok)), shape=(n, m)))
    core = median.p_median(cm, pd.Series(swaps, index=rows), None, capacity=pd.Series(cap, index=cols),
                           site_cost=pd.Series(fcost, index=cols), single_source=False, mip_rel_gap=1e-9)
    assert ours.objective == pytest.approx(core.objective, rel=1e-6)
    assert math.isclose(float(ours.costs["cost_cny"].sum()), fcost * len(core.selected), rel_tol=1e-9)


# ------------------------------------------------------------------------ battery packs
def _pack_case(pack_cost: float, **kw):
    # one taxi depot A: 500 vehicles × 1 swap/day; one candidate S1 at 1 km; car stations: 500 swaps/day,
    # 3 M CNY with 20 packs, up to 2 per site; packs turn 8 times a day, reserve 20 %.
    st = dict(SwapParams().station_types)
    st["car"] = StationTypeParams(capacity_swaps_day=500, battery_stock=20, cost_cny=3_000_000, max_per_site=2,
                                  battery_turns_per_day=8, pack_cost_cny=pack_cost)
    params = SwapParams(station_types=st, deadhead_cny_per_km=0.5, horizon_days=365, battery_reserve_share=0.2, **{"min_utilisation": 0.0, **kw})
    fleets = pd.DataFrame({"fleet_id": ["A"], "fleet_type": ["taxi"], "vehicles": [500.0],
                           "swaps_per_vehicle_day": [1.0], "lon": [LON], "lat": [LAT]})
    sites = gpd.GeoDataFrame({"site_id": ["S1"]}, geometry=[Point(LON + 0.005, LAT)], crs="EPSG:4326")
    costs = CostMatrix.from_dataframe(pd.DataFrame({"S1": [1000.0]}, index=["A"]))
    return params, fleets, sites, costs


def test_pack_cost_one_station_buys_55_packs(anshun):
    # 500 swaps/day need 500 × 1.2 / 8 = 75 packs; one station includes 20 -> 55 extra at 40,000 CNY
    # = 2,200,000. One station: 3,000,000 + 2,200,000 = 5,200,000; two stations: 6,000,000 + 35 × 40,000
    # = 7,400,000 -> one. Access 365 × 500 × 1 km = 182,500. Total 5,382,500 CNY.
    params, fleets, sites, costs = _pack_case(40_000)
    res = plan_swap(anshun, params, fleets=fleets, candidates=sites, costs=costs)
    assert res.objective == pytest.approx(5_382_500, rel=1e-9)
    assert res.pack_cost_cny == pytest.approx(2_200_000)
    assert res.station_cost_cny == pytest.approx(3_000_000)
    st = res.stations.iloc[0]
    assert (st["n_stations"], st["extra_packs"], st["batteries"]) == (1, 55, 75)
    assert st["cost_cny"] == pytest.approx(5_200_000)
    # the core pays the packs too: the block's capital cost in the solution
    assert float(res.solution.costs["cost_cny"].sum()) == pytest.approx(5_200_000)


def test_pack_cost_makes_a_second_station_worth_it(anshun):
    # at 200,000 CNY a pack: one station 3,000,000 + 55 × 200,000 = 14,000,000; two stations bring 40
    # packs: 6,000,000 + 35 × 200,000 = 13,000,000 -> two (a choice only a model that prices packs makes)
    params, fleets, sites, costs = _pack_case(200_000)
    res = plan_swap(anshun, params, fleets=fleets, candidates=sites, costs=costs)
    assert res.objective == pytest.approx(13_000_000 + 182_500, rel=1e-9)
    st = res.stations.iloc[0]
    assert (st["n_stations"], st["extra_packs"], st["batteries"]) == (2, 35, 75)
    assert res.pack_cost_cny == pytest.approx(7_000_000)


def test_pack_cost_in_the_budget_of_max_served(anshun):
    # budget 3,400,000: one station (3,000,000) + floor(400,000 / 40,000) = 10 extra packs -> 30 packs
    # carry 30 × 8 / 1.2 = 200 swaps/day
    params, fleets, sites, costs = _pack_case(40_000, mode="max_served", budget_cny=3_400_000)
    res = plan_swap(anshun, params, fleets=fleets, candidates=sites, costs=costs)
    assert res.objective == pytest.approx(200.0, rel=1e-9)
    st = res.stations.iloc[0]
    assert (st["n_stations"], st["extra_packs"], st["batteries"]) == (1, 10, 30)
    assert res.station_cost_cny + res.pack_cost_cny == pytest.approx(3_400_000)


def test_joint_years_buy_packs_when_the_swaps_need_them(anshun):
    # the same prepared block over two years, 40 % then 100 % of the 500 swaps/day: 2024 serves 200
    # (one station, 200 × 1.2 / 8 = 30 packs: 10 extra) = 3,000,000 + 400,000; 2025 serves 500 (75 packs:
    # 45 more) = 1,800,000. Packs are cumulative like stations.
    params, fleets, sites, costs = _pack_case(40_000)
    prep = prepare_swap(anshun, params, fleets=fleets, candidates=sites, costs=costs)
    blk = dataclasses.replace(prep.block, target_share=[0.4, 1.0])
    sol = solve_joint([blk], years=[2024, 2025], mip_rel_gap=1e-9)
    assert sol.costs["cost_cny"].tolist() == pytest.approx([3_400_000, 1_800_000])
    res = assess_swap(dataclasses.replace(prep, block=blk), sol, params)
    st = res.stations.iloc[0]
    assert (st["n_stations"], st["extra_packs"], st["phase_year"]) == (1, 55, 2024)


def test_pack_data_must_come_together():
    d = SwapModelData(demand_ids=pd.Index(["a"]), site_ids=pd.Index(["s"]), swaps=np.array([10.0]),
                      dtype_of=np.array([0]), type_names=["car"], capacity=np.array([500.0]),
                      unit_cost=np.array([1.0]), max_per_site=np.array([1]), dist_km=sp.csr_array(np.array([[1.0]])),
                      pack_cost=np.array([1.0]))
    with pytest.raises(DataError, match="missing"):
        d.block()
    with pytest.raises(DataError, match="one finite value >= 0 per station type"):
        dataclasses.replace(d, packs_per_swap=np.array([0.1, 0.2]), packs_included=np.array([1.0])).block()


def test_min_cost_budget_counts_packs(anshun):
    # the cheapest full plan costs 5,200,000 (stations + packs, see above): a 5,000,000 budget is short
    params, fleets, sites, costs = _pack_case(40_000, budget_cny=5_000_000)
    with pytest.raises(InfeasibleError, match="5,200,000 CNY"):
        plan_swap(anshun, params, fleets=fleets, candidates=sites, costs=costs)


# ------------------------------------------------------------------------ fleet files
def test_fleet_csv_and_toml(tmp_path):
    csv = tmp_path / "fleets.csv"
    csv.write_text("fleet_type,vehicles,daily_swaps_per_vehicle,lon,lat,county,name\n"
                   "出租车,200,1.5,105.96,26.25,,安顺出租\n"
                   "bus,40,,,,520402,西秀公交\n", encoding="utf-8")
    t = read_fleet_file(csv)
    assert t["fleet_type"].tolist() == ["taxi", "bus"]
    assert t["swaps_day"].tolist() == pytest.approx([300.0, 40.0])  # bus default 1 swap/day
    assert t["fleet_id"].tolist() == ["F001", "F002"]
    toml = tmp_path / "fleets.toml"
    toml.write_text('[[fleet]]\nfleet_type = "mine_truck"\nvehicles = 30\ncity = "安顺市"\n', encoding="utf-8")
    t2 = read_fleet_file(toml)
    assert t2.loc[0, "swaps_day"] == pytest.approx(90.0)  # 30 × 3 swaps/day default


@pytest.mark.parametrize(
    "body, match",
    [
        ("fleet_type,vehicles,lon,lat\ntaxi,abc,105.9,26.2\n", r"fleets\.csv line 2: vehicles 'abc' is not a number"),
        ("fleet_type,vehicles,lon,lat\ntaxi,10,105.9,26.2\nrocket,5,105.9,26.2\n", r"line 3: fleet_type 'rocket'"),
        ("fleet_type,vehicles,lon\ntaxi,10,105.9\n", r"line 2: give both lon and lat"),
        ("fleet_type,vehicles\ntaxi,10\n", r"line 2: say where the fleet operates"),
        ("vehicles,lon,lat\n10,105.9,26.2\n", r"line 2: field 'fleet_type' is missing"),
        ("fleet_type,vehicles,lon,lat,colour\ntaxi,10,105.9,26.2,red\n", r"unknown field\(s\) \['colour'\]"),
        ("fleet_type,vehicles,lon,lat\ntaxi,-3,105.9,26.2\n", r"line 2: vehicles '-3' is not valid"),
    ],
)
def test_fleet_file_errors(tmp_path, body, match):
    p = tmp_path / "fleets.csv"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        read_fleet_file(p)


def test_fleet_toml_errors(tmp_path):
    p = tmp_path / "f.toml"
    p.write_text('[[fleet]]\nfleet_type = "taxi"\nvehicles = 5\ncounty = "520402"\n[[fleet]]\nvehicles = 3\n',
                 encoding="utf-8")
    with pytest.raises(DataError, match=r"f\.toml fleet\[2\]: field 'fleet_type' is missing"):
        read_fleet_file(p)
    with pytest.raises(DataError, match="does not exist"):
        read_fleet_file(tmp_path / "nope.csv")


def test_depot_outside_region_and_unknown_county(anshun, tmp_path):
    p = tmp_path / "fleets.csv"
    # 106.63 E 26.65 N is in 贵阳, not 安顺
    p.write_text("fleet_type,vehicles,lon,lat\ntaxi,10,105.96,26.25\ntaxi,10,106.63,26.65\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"outside region 安顺市: fleets\.csv line 3"):
        plan_swap(anshun, fleets=p)
    p.write_text("fleet_type,vehicles,county\ntaxi,10,南明区\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2: county '南明区' is not in region 安顺市"):
        plan_swap(anshun, fleets=p)


# ------------------------------------------------------------------------ default fleets
def test_default_fleets_from_census(anshun):
    # 西秀区 2020 census urban population 513,850: taxis = 51.385 × 25 × 0.5 × 0.3 = 192.69375
    f = default_fleets(anshun, SwapParams()).set_index("fleet_id")
    assert f.loc["520402-taxi", "vehicles"] == pytest.approx(192.69375)
    assert f.loc["520402-taxi", "swaps_day"] == pytest.approx(192.69375 * 1.5)
    # mine trucks only in the coal prefectures 六盘水, 毕节, 黔西南: none in 安顺
    assert not f.index.str.endswith("mine_truck").any()


def test_county_fleet_spread_over_urban_disc(anshun):
    # 1,000 taxis × 1.5 = 1,500 swaps/day > one car station (500): spread over 7 points on the
    # urban disc of 西秀区: r = sqrt(513,850 / 10,000 / π) = 4.044 km; each point 1,500 / 7.
    fl = pd.DataFrame({"fleet_id": ["T"], "fleet_type": ["taxi"], "vehicles": [1000.0],
                       "swaps_per_vehicle_day": [1.5], "county": ["西秀区"], "where": ["test"]})
    for c in ("lon", "lat"):
        fl[c] = np.nan
    fl["city"] = None
    fl["swaps_day"] = 1500.0
    fl["name"] = "T"
    pts = fleet_demand_points(anshun, fl, SwapParams())
    assert len(pts) == 7
    assert pts["swaps_day"].tolist() == pytest.approx([1500 / 7] * 7)
    seat = gpd.GeoSeries([Point(105.961713, 26.248811)], crs="EPSG:4326").to_crs(anshun.metric_crs).iloc[0]
    d_km = pts.to_crs(anshun.metric_crs).distance(seat) / 1000.0
    r = math.sqrt(513_850 / 10_000 / math.pi)
    assert d_km.min() == pytest.approx(0.0, abs=1e-6)
    assert d_km.max() <= r
    # a small fleet (100 swaps/day) stays at the seat
    fl["swaps_day"] = 100.0
    assert len(fleet_demand_points(anshun, fl, SwapParams())) == 1


def test_default_plan_serves_all(anshun):
    res = plan_swap(anshun)
    assert res.summary.set_index("fleet_type").loc["total", "served_share"] == pytest.approx(1.0)
    st = res.stations
    assert (st["swaps_served"] <= st["capacity_swaps_day"] + 1e-6).all()
    assert st["cost_cny"].sum() == pytest.approx(res.station_cost_cny + res.pack_cost_cny)
    # packs on site: the stations' stock plus what the served swaps need beyond it
    p = SwapParams()
    stock = st["station_type"].map({k: v.battery_stock for k, v in p.station_types.items()})
    turns = st["station_type"].map({k: v.battery_turns_per_day for k, v in p.station_types.items()})
    need = np.ceil(st["swaps_served"] * 1.2 / turns - 1e-9)
    assert (st["extra_packs"] == np.maximum(need - stock * st["n_stations"], 0)).all()
    assert (st["batteries"] == stock * st["n_stations"] + st["extra_packs"]).all()
    assert st.crs.to_epsg() == 4326


def test_params_reject_unknown_keys_and_types():
    with pytest.raises(ValueError):
        SwapParams(colour="red")
    with pytest.raises(ValueError, match="unknown station types"):
        SwapParams(fleets={"taxi": {**SwapParams().fleets["taxi"].model_dump(), "station_type": "boat"}})
    with pytest.raises(ValueError, match="budget_cny"):
        SwapParams(mode="max_served")


def test_area_without_population_plans_nothing_without_crashing(tmp_path):
    """A custom area outside Guizhou has no census population: no fleets, no stations, no crash."""
    import json

    from gzcharge.region import Region
    from gzcharge.tiers.swap import plan_swap

    path = tmp_path / "outside.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"code": "Z", "name": "外省"},
        "geometry": {"type": "Polygon", "coordinates": [[[110.0, 30.0], [110.2, 30.0], [110.2, 30.2], [110.0, 30.2], [110.0, 30.0]]]}}]}))
    res = plan_swap(Region.from_file(path, code_field="code", name_field="name"))
    assert len(res.stations) == 0
    assert float(res.summary["swaps_day"].sum()) == 0.0


def test_utilisation_floor_drops_small_fleets_only():
    """Hand instance: sites S0, S1; points a (300/day, reaches S0), b (50/day, reaches S0, S1), c (40/day, S1).

    Floor 0.2 of a 500/day station = 100/day. S0 gathers a + b = 350 ≥ 100 (viable), S1 gathers
    b + c = 90 < 100 (not viable): a and b are kept (S0 reaches them), c is dropped. A point with
    no site in reach (d) is kept for the reach check to name.
    """
    import scipy.sparse as sp

    from gzcharge.tiers.swap import utilisation_floor

    reach = sp.csr_array(np.array([[1.0, 0], [2.0, 3.0], [0, 1.0], [0, 0]]))
    keep = utilisation_floor(reach, np.array([300.0, 50.0, 40.0, 5.0]), np.array(["car"] * 4),
                             np.full(4, 500.0), 0.2)
    assert keep.tolist() == [True, True, False, True]
    # a floor of 0 keeps everything; at 0.8 (400/day) no site is viable: all but the unreachable d go
    assert utilisation_floor(reach, np.array([300.0, 50.0, 40.0, 5.0]), np.array(["car"] * 4),
                             np.full(4, 500.0), 0.0).all()
    assert utilisation_floor(reach, np.array([300.0, 50.0, 40.0, 5.0]), np.array(["car"] * 4),
                             np.full(4, 500.0), 0.8).tolist() == [False, False, False, True]


def test_province_default_swap_is_demand_driven():
    """Province default (no fleet file): every swap site reaches the utilisation floor, and swap costs far
    less than public charging.

    Public cost lower bound, by hand: the 2030 EVs (1,224,304) × 6.8 kWh × 0.5 public share need
    ≥ 1,224,304 × 3.4 / (46.5 kW × 24 h × 0.06 = 66.96 kWh per plug-day) = 62,165 plugs. A plan with n
    stations pays ≥ 400,000 CNY per station (the cheapest candidate type, with its first 2 plugs) and
    46,500 CNY per further plug: cost ≥ 400,000 n + 46,500 (62,165 − 2 n) ≥ 46,500 × 62,165 ≈ 2.89 B CNY
    for every n (400,000 > 2 × 46,500).
    """
    from gzcharge.region import get_region
    from gzcharge.scenario import load_scenario, swap_params
    from gzcharge.tiers.swap import plan_swap

    s = load_scenario(Path(__file__).resolve().parents[1] / "models" / "province.toml")
    p = swap_params(s)
    res = plan_swap(get_region("贵州省"), p)
    st = res.stations
    assert len(st) > 0
    cap = st["station_type"].map({k: v.capacity_swaps_day for k, v in p.station_types.items()})
    util = st["swaps_served"] / (st["n_stations"] * cap)
    assert (util >= p.min_utilisation - 1e-9).all(), st.loc[util < p.min_utilisation]
    assert any("demand-driven" in n for n in res.notes)  # the small fleets are named, not planned
    public_lower_bound = 46_500 * 1_224_304 * 6.8 * 0.5 / (46.5 * 24 * 0.06)
    assert float(st["cost_cny"].sum()) < 0.2 * public_lower_bound
