"""A plan that extends today's network: the 2024 station grid as --existing (issue 10).

The grid (``charging_stations_grid_2024.csv``: stations counted on a 0.01° grid, Amap-derived, GCJ-02)
is test-use-only shared data; the test skips without it.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer

from tests.conftest import shared_path

GRID = ("guizhou", "charging_stations_grid_2024.csv")
SEATS = ("guizhou", "township_seats_2016.csv")


@pytest.fixture(scope="module")
def extended():
    from gzcharge.inputs import PlanInputs
    from gzcharge.plan import run_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import load_scenario

    grid, seats = shared_path(*GRID), shared_path(*SEATS)
    region = get_region("安顺市").with_townships(seats)
    scen = load_scenario("models/anshun.toml", overrides=["tiers.highway=false", "tiers.hydrogen=false",
                                                        "tiers.swap=false", "solver.time_limit_s=120"])
    plan = run_plan(region, scen, PlanInputs(existing_stations=str(grid), existing_crs="gcj02"))
    return plan, scen


def _xy(gdf):
    tr = Transformer.from_crs("EPSG:4326", "EPSG:4544", always_xy=True)
    return np.column_stack(tr.transform(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()))


def test_existing_counted_and_added_vs_existing_reported(extended):
    plan, _ = extended
    pub = plan.public
    st, counties = pub.stations, pub.counties
    n_existing = int(pub.candidates["existing"].sum())
    assert n_existing > 100  # 安顺市 has ~200 stations in the 2024 sample
    # every existing station stays open, and the county table splits existing from new
    assert int((st["status"] == "existing").sum()) == n_existing
    assert int(counties["stations_existing"].sum()) == n_existing
    assert int(counties["stations_new"].sum()) == int((st["status"] == "new").sum())
    # plugs: existing (8 per station of the grid, the documented assumption) + added = plugs
    assert int(counties["plugs_existing"].sum()) == 8 * n_existing
    assert int(counties["plugs_added"].sum() + counties["plugs_existing"].sum()) == int(st["plugs"].sum())
    from gzcharge.tiers.public import reality_check

    rc = reality_check(pub, plan.scenario).set_index("indicator")["plan"]
    assert rc["stations: existing kept / new"] == f"{n_existing:,} / {int((st['status'] == 'new').sum()):,}"


def test_new_stations_only_where_todays_network_is_thin(extended):
    """Every new station is justified by a gap in today's network, checked with independent distances.

    A new station must (a) reach a demand point that no existing station reaches within its radius, or
    (b) be the own charger of a township none of whose stations (existing, nearest-seat rule) exists, or
    (c) stand in a county whose existing stations are fewer than 1 per evs_per_station EVs. No new
    station is placed inside a cluster of existing stations that already meets the rules.
    """
    plan, scen = extended
    pub = plan.public
    st, dm = pub.stations, pub.demand
    circ = scen.distance.circuity
    ex, new = st[st["status"] == "existing"], st[st["status"] == "new"]
    assert len(new) > 0
    dxy, exy, nxy = _xy(dm), _xy(ex), _xy(new)
    r = dm["radius_m"].to_numpy()
    d_ex = np.hypot(dxy[:, None, 0] - exy[None, :, 0], dxy[:, None, 1] - exy[None, :, 1]) * circ
    d_new = np.hypot(dxy[:, None, 0] - nxy[None, :, 0], dxy[:, None, 1] - nxy[None, :, 1]) * circ
    gap = ~(d_ex <= r[:, None] + 1e-6).any(axis=1)  # demand no existing station reaches
    reaches_gap = ((d_new <= r[:, None] + 1e-6) & gap[:, None]).any(axis=0)
    # (b) townships with no existing station of their own: the nearest seat of each existing station
    town = (dm["tier"] == "township").to_numpy()
    txy = dxy[town]
    rt = scen.public.township_radius_km * 1000
    d_te = np.hypot(exy[:, None, 0] - txy[None, :, 0], exy[:, None, 1] - txy[None, :, 1]) * circ
    own_ex = set(np.argmin(d_te, axis=1)[d_te.min(axis=1) <= rt])
    d_tn = np.hypot(nxy[:, None, 0] - txy[None, :, 0], nxy[:, None, 1] - txy[None, :, 1]) * circ
    nearest_town = np.argmin(d_tn, axis=1)
    own_new = (d_tn.min(axis=1) <= rt) & np.array([t not in own_ex for t in nearest_town])
    # (c) counties short of stations before the plan
    evs = pub.counties.set_index("adcode")["evs"]
    need = np.ceil(evs / scen.public.evs_per_station - 1e-9)
    have = ex.groupby("county_adcode").size().reindex(evs.index, fill_value=0)
    short = set(evs.index[have.to_numpy() < need.to_numpy()])
    count_rule = new["county_adcode"].isin(short).to_numpy()
    justified = reaches_gap | own_new | count_rule
    assert justified.all(), new.loc[~justified, ["site_id", "name", "county_adcode"]]
