"""Public charging tier: hand-checkable synthetic region and 安顺市 with the shared township file."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from gzcharge.errors import ConfigError, InfeasibleError
from gzcharge.region import Region
from gzcharge.scenario import load_scenario

from .conftest import shared_path


# ---------------------------------------------------------------------------- synthetic region
def _synthetic_region() -> Region:
    """One 0.2° × 0.2° county (about 20 km × 22 km) with a seat and two township seats."""
    poly = shapely.box(105.9, 26.4, 106.1, 26.6)
    counties = gpd.GeoDataFrame(
        {"adcode": ["999901"], "name": ["测试县"], "prefecture_adcode": ["999900"], "prefecture": ["测试州"],
         "pop_total": [100_000], "pop_urban": [20_000], "pop_rural": [80_000], "households": [1000],
         "households_longform": [100], "longform_households_with_car": [40]},
        geometry=[poly], crs="EPSG:4326")
    settlements = gpd.GeoDataFrame(
        {"settlement_id": ["999901", "999901100000", "999901200000"], "name": ["测试县", "甲镇", "乙乡"],
         "kind": ["county_seat", "township", "township"], "county_adcode": ["999901"] * 3,
         "population": [np.nan] * 3, "population_basis": [""] * 3, "source": ["test"] * 3},
        geometry=shapely.points([(106.0, 26.5), (105.95, 26.45), (106.05, 26.55)]), crs="EPSG:4326")
    return Region(kind="custom", code="999901", name="测试县", boundary=poly, counties=counties,
                  settlements=settlements, township_source="test")


HAND = [
    'ev.evs_by_county={"999901" = 200}', "public.township_own_charger=false",
    "public.county_seat_radius_km=30", "public.township_radius_km=30", "public.min_county_coverage=1.0",
    "public.evs_per_station=1000", "public.kwh_per_ev_day=6", "public.public_charging_share=0.4",
    "public.plug_kw=60", "public.hours_per_day=24", "public.utilisation_target=0.15", "public.min_plugs=2",
    "public.cost_per_extra_plug_cny=60000", "public.grid_spacing_km=5",
]


def test_synthetic_evs_and_demand_weights():
    from gzcharge.demand import public_demand

    s = load_scenario(overrides=HAND)
    d = public_demand(_synthetic_region(), s)
    # EVs given for the synthetic county (it is not in the built-in Guizhou pack): 200, all of it spread
    # over the points
    assert d.attrs["county_evs"]["999901"] == pytest.approx(200.0)
    assert d["weight_evs"].sum() == pytest.approx(200.0)
    # county seat town: 0.7 × 20,000 urban = 14,000 residents of 100,000 -> 28 EVs; rest to 2 townships
    assert d.loc[d["tier"] == "county", "weight_evs"].sum() == pytest.approx(28.0)
    t = d[d["tier"] == "township"].set_index("name")["weight_evs"]
    assert t["甲镇"] == pytest.approx(86.0) and t["乙乡"] == pytest.approx(86.0)
    assert set(d["radius_m"][d["tier"] == "township"]) == {30_000.0}


def test_synthetic_one_station_sized_by_hand():
    from gzcharge.tiers.public import plan_public

    res = plan_public(_synthetic_region(), load_scenario(overrides=HAND))
    st = res.stations
    # one site covers everything within 30 km; the cheapest type is a settlement seat (600,000 CNY)
    assert len(st) == 1 and st["ctype"].iloc[0] == "settlement"
    # 200 EVs × 6 kWh × 0.4 = 480 kWh/day; one plug gives 60 × 24 × 0.15 = 216 -> ceil(2.22) = 3 plugs,
    # one beyond the 2 in the site cost: the plan costs 600,000 + 60,000 (sites and plugs)
    assert res.objective == pytest.approx(660_000.0)
    assert st["energy_kwh_day"].iloc[0] == pytest.approx(480.0)
    assert st["evs_served"].iloc[0] == pytest.approx(200.0)
    assert st["plugs"].iloc[0] == 3 and st["kw"].iloc[0] == 180.0
    assert st["cost_cny"].iloc[0] == pytest.approx(660_000.0)
    assert res.demand["covered"].all()
    assert res.counties["plugs_per_1000_evs"].iloc[0] == pytest.approx(15.0)


def test_synthetic_station_per_n_evs():
    from gzcharge.tiers.public import plan_public

    res = plan_public(_synthetic_region(), load_scenario(overrides=[*HAND, "public.evs_per_station=50"]))
    # ceil(200 / 50) = 4 stations: the three settlement seats (600,000) + the cheapest other (urban grid 700,000);
    # their 4 × 2 plugs (1,728 kWh/day) hold the 480 kWh/day, so no plug beyond min_plugs is bought
    assert len(res.stations) == 4 and (res.stations["plugs"] == 2).all()
    assert res.stations["energy_kwh_day"].sum() == pytest.approx(480.0)
    assert res.objective == pytest.approx(3 * 600_000 + 700_000)
    assert res.counties["stations_required"].iloc[0] == 4


def test_max_cover_without_budget_is_config_error():
    from gzcharge.tiers.public import plan_public

    with pytest.raises(ConfigError, match="budget_cny or public.max_stations"):
        plan_public(_synthetic_region(), load_scenario(overrides=[*HAND, "public.mode=max_cover"]))


def test_estimated_townships_labelled():
    from gzcharge.demand import public_demand

    r = _synthetic_region()
    r = Region(kind=r.kind, code=r.code, name=r.name, boundary=r.boundary, counties=r.counties,
               settlements=r.settlements[r.settlements["kind"] != "township"], township_source=None)
    d = public_demand(r, load_scenario(overrides=HAND))
    t = d[d["tier"] == "township"]
    assert len(t) >= 1 and (t["source"] == "estimated").all()
    assert "ESTIMATED" in d.attrs["township_note"]
    assert d["weight_evs"].sum() == pytest.approx(200.0)


# ---------------------------------------------------------------------------- 安顺市
@pytest.fixture(scope="module")
def anshun():
    from gzcharge.region import get_region

    path = shared_path("guizhou", "township_seats_2016.csv")
    return get_region("安顺市").with_townships(path), pd.read_csv(path, dtype={"code": str, "county_adcode": str})


def _independent_min_dist_m(points: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, circuity: float) -> np.ndarray:
    """Straight-line distance × circuity to the nearest station, projected with pyproj (not the code's matrix)."""
    tr = Transformer.from_crs("EPSG:4326", "EPSG:4544", always_xy=True)
    px, py = tr.transform(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    sx, sy = tr.transform(stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy())
    d = np.hypot(px[:, None] - sx[None, :], py[:, None] - sy[None, :])
    return d.min(axis=1) * circuity


def test_anshun_every_township_covered(anshun):
    from gzcharge.tiers.public import plan_public

    region, file = anshun
    # the default gap (2 %): integer plugs per station make the last percent slow to prove
    s = load_scenario("models/anshun.toml", overrides=["solver.time_limit_s=120"])
    res = plan_public(region, s)
    assert res.status == "optimal" and res.gap <= s.solver.mip_rel_gap
    towns_file = file[file["county_adcode"].isin(set(region.counties["adcode"]))]
    assert len(towns_file) == 70
    t = res.townships
    assert set(t["settlement_id"]) == set(towns_file["code"])
    # independent check: every township seat of the file has a station within radius
    seats = gpd.GeoDataFrame(towns_file, geometry=gpd.points_from_xy(towns_file["lon"], towns_file["lat"]),
                             crs="EPSG:4326")
    d = _independent_min_dist_m(seats, res.stations, s.distance.circuity)
    assert (d <= s.public.township_radius_km * 1000 + 1e-6).all(), d.max()
    assert t["covered"].all() and res.unmet == []
    # own-charger rule, checked independently: the nearest township seat of every open station (pyproj
    # distances × circuity, within the radius) — together these seats must be all 70 townships
    tr = Transformer.from_crs("EPSG:4326", "EPSG:4544", always_xy=True)
    tx, ty = tr.transform(seats.geometry.x.to_numpy(), seats.geometry.y.to_numpy())
    sx, sy = tr.transform(res.stations.geometry.x.to_numpy(), res.stations.geometry.y.to_numpy())
    dd = np.hypot(sx[:, None] - tx[None, :], sy[:, None] - ty[None, :]) * s.distance.circuity
    nearest = dd.argmin(axis=1)
    ok = dd.min(axis=1) <= s.public.township_radius_km * 1000 + 1e-6
    assert set(towns_file["code"].to_numpy()[nearest[ok]]) == set(towns_file["code"])
    # one station per 500 EVs in every county
    evs = res.demand.groupby("county_adcode")["weight_evs"].sum()
    n = res.stations.groupby("county_adcode").size().reindex(evs.index, fill_value=0)
    assert (n >= np.ceil(evs / s.public.evs_per_station - 1e-9)).all()
    # county coverage recomputed independently, weighted by EVs
    dm = res.demand
    dd = _independent_min_dist_m(dm, res.stations, s.distance.circuity)
    cov = dd <= dm["radius_m"].to_numpy() + 1e-6
    assert (cov == dm["covered"].to_numpy()).all()
    share = (dm["weight_evs"] * cov).groupby(dm["county_adcode"]).sum() / dm.groupby("county_adcode")["weight_evs"].sum()
    assert (share >= s.public.min_county_coverage - 1e-9).all()


def test_anshun_budget_too_small_lists_townships(anshun):
    from gzcharge.tiers.public import plan_public

    region, _ = anshun
    # the radius rule alone (the own-charger rule is tested above): uncovered = no station within radius
    s = load_scenario("models/anshun.toml", overrides=["public.budget_cny=1.2e7", "solver.mip_rel_gap=0.005",
                                                       "solver.time_limit_s=10", "public.township_own_charger=false"])
    with pytest.raises(InfeasibleError) as exc:
        plan_public(region, s)
    msg = str(exc.value)
    assert "cannot meet the hard targets" in msg and "townships stay uncovered" in msg
    unserved = exc.value.unserved
    assert unserved and all(u.startswith("town-") for u in unserved)

    s2 = load_scenario("models/anshun.toml", overrides=["public.budget_cny=1.2e7", "public.fallback_max_cover=true",
                                                        "solver.mip_rel_gap=0.005", "solver.time_limit_s=10",
                                                        "public.township_own_charger=false"])
    res = plan_public(region, s2)
    assert res.mode == "max_cover_fallback"
    # sites and plugs within the budget, recomputed from the candidates' costs and the stations' plugs
    st = res.stations
    site_cost = res.candidates.set_index("site_id").loc[st["site_id"], "cost_cny"].to_numpy()
    spend = site_cost.sum() + s2.public.cost_per_extra_plug_cny * (st["plugs"] - s2.public.min_plugs).clip(lower=0).sum()
    assert spend == pytest.approx(st["cost_cny"].sum()) and spend <= 1.2e7 + 1e-6
    # the uncovered townships are exactly those with no station within radius (independent distances)
    d = _independent_min_dist_m(res.townships, res.stations, s2.distance.circuity)
    uncovered = set(res.townships["demand_id"][d > s2.public.township_radius_km * 1000 + 1e-6])
    assert uncovered == set(res.townships["demand_id"][~res.townships["covered"]])
    assert uncovered == set(unserved)
    assert any("townships uncovered" in u for u in res.unmet)


def test_anshun_max_cover_station_limit(anshun):
    from gzcharge.tiers.public import plan_public

    region, _ = anshun
    s = load_scenario("models/anshun.toml", overrides=["public.mode=max_cover", "public.max_stations=20"])
    res = plan_public(region, s)
    assert len(res.stations) <= 20
    assert res.summary.set_index("tier").loc["total", "covered_pct"] < 100.0
    assert math.isfinite(res.objective)


def test_anshun_max_cover_with_budget(anshun):
    # regression: max_cover with a budget raised TypeError (size(xt)[-1] on a dataclass)
    from gzcharge.tiers.public import plan_public

    region, _ = anshun
    # (the budgeted max cover is slow to prove: 10 s gives a feasible plan, which is what is checked)
    s = load_scenario("models/anshun.toml", overrides=["public.mode=max_cover", "public.budget_cny=3e7",
                                                       "solver.mip_rel_gap=0.005", "solver.time_limit_s=10"])
    res = plan_public(region, s)
    st = res.stations
    p = s.public
    site_cost = res.candidates.set_index("site_id").loc[st["site_id"], "cost_cny"].to_numpy()
    spend = site_cost.sum() + p.cost_per_extra_plug_cny * (st["plugs"] - p.min_plugs).clip(lower=0).sum()
    assert spend <= 3e7 + 1e-6
    # every covered demand point's energy is served, within the stations' plug capacity
    dem = res.demand
    need = dem["weight_evs"] * p.kwh_per_ev_day * p.public_charging_share
    assert np.allclose(dem.loc[dem["covered"], "energy_kwh_day"], need[dem["covered"]])
    assert (dem.loc[~dem["covered"], "energy_kwh_day"] == 0).all()
    kap = p.plug_kw * p.hours_per_day * p.utilisation_target
    assert (st["energy_kwh_day"] <= st["plugs"] * kap * (1 + 1e-9)).all()
    assert 0 < res.summary.set_index("tier").loc["total", "covered_pct"] < 100


def test_own_charger_rule_one_station_per_township():
    """Hand instance: 甲镇 (105.95, 26.45) and 乙乡 (106.05, 26.55) are ~15 km apart (0.1° lon × 0.1° lat
    at 26.5° N ≈ 9.95 km × 11.1 km -> 14.9 km straight); with a 30 km radius the county seat's station
    alone covers both under the radius rule (the test above). With the own-charger rule a station
    belongs to its nearest township seat only, so each township needs one of its own: the plan opens
    one station at (or nearest to) each seat — at least 2, and each township's own station is open."""
    from gzcharge.tiers.public import plan_public

    over = [h for h in HAND if not h.startswith("public.township_own_charger")] + ["public.township_own_charger=true"]
    res = plan_public(_synthetic_region(), load_scenario(overrides=over))
    tw = res.townships.set_index("name")
    assert bool(tw.loc["甲镇", "own_charger"]) and bool(tw.loc["乙乡", "own_charger"])
    assert len(res.stations) >= 2
    # each open station belongs to at most one township: the stations serving 甲镇 and 乙乡 differ
    assert tw.loc["甲镇", "station_id"] != tw.loc["乙乡", "station_id"]


def test_own_township_cover_hand():
    """own_township_cover on a 3 × 3 hand matrix (distances in m, radius 1,000 for every row):

    rows 0, 1 are township seats, row 2 is other demand; site A is 300 m from row 0 and 400 m from
    row 1 -> belongs to row 0; site B is 900 m from row 0 and 200 m from row 1 -> belongs to row 1;
    site C is 1,500 m from row 0 (beyond the radius) and 600 m from row 2 -> belongs to no township.
    Township rows keep only their own sites; row 2 keeps every site within 1,000 m (A, B, C).
    """
    import scipy.sparse as sp

    from gzcharge.tiers.public import own_township_cover

    d = sp.csr_array(np.array([[300.0, 900.0, 1500.0], [400.0, 200.0, 0.0], [500.0, 700.0, 600.0]]))
    cover, own = own_township_cover(d, np.full(3, 1000.0), np.array([True, True, False]))
    assert own.tolist() == [0, 1, -1]
    assert cover.toarray().astype(int).tolist() == [[1, 0, 0], [0, 1, 0], [1, 1, 1]]
