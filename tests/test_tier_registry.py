"""A new facility type is one Tier class plus one registry line: plan, joint plan, GeoPackage and
report pick it up without a change elsewhere.

The toy tier here ("bus depots": every county seat of 安顺市 within 25 km of a depot, depots at
county seats, one cost each) is a plain set cover. Its optimum is checked against brute force
over every subset of the seats.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

RADIUS_KM = 25.0


def _seats(region) -> pd.DataFrame:
    s = region.settlements
    s = s[s["kind"].isin(["county_seat", "prefecture_seat"])].drop_duplicates("county_adcode")
    return pd.DataFrame({"site_id": "D-" + s["county_adcode"].astype(str), "name": s["name"].astype(str),
                         "kind": "depot", "county_adcode": s["county_adcode"].astype(str),
                         "lon": s.geometry.x.to_numpy(), "lat": s.geometry.y.to_numpy()}).reset_index(drop=True)


def _cover(sites: pd.DataFrame, crs: str) -> np.ndarray:
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(sites["lon"].to_numpy(),
                                                                            sites["lat"].to_numpy())
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) / 1000.0
    return d <= RADIUS_KM


def _make_tier():
    import scipy.sparse as sp

    from gzcharge.locate.joint import CoverageBlock
    from gzcharge.tiers.base import Prepared, Tier, TierResult, status_of

    class BusDepotTier(Tier):
        name = "bus_depot"
        title = "Bus depots (toy tier)"
        site_sharing = None

        def enabled(self, scenario):
            return True

        def prepare(self, ctx):
            sites = _seats(ctx.region)
            cov = _cover(sites, ctx.region.metric_crs)
            blk = CoverageBlock(name=self.name, site_ids=pd.Index(sites["site_id"]), site_cost=np.ones(len(sites)),
                                cover=sp.csr_array(cov), weight=np.ones(len(sites)),
                                demand_ids=pd.Index(sites["site_id"]), must=np.ones(len(sites), bool))
            return Prepared(self.name, block=blk, sites=sites, data=sites)

        def solve(self, ctx, prep):
            from gzcharge.locate.joint import solve_joint

            return solve_joint([prep.block], years=[ctx.year])

        def assess(self, ctx, prep, sol):
            import geopandas as gpd

            open_ids = set(sol.sites.loc[sol.sites["block"] == self.name, "site_id"])
            st = prep.data[prep.data["site_id"].isin(open_ids)]
            layer = gpd.GeoDataFrame(st, geometry=gpd.points_from_xy(st["lon"], st["lat"]), crs="EPSG:4326")
            return TierResult(tier=self.name, title=self.title, status=status_of(sol.status),
                              objective=sol.objective, gap=sol.gap, layers={"bus_depot_stations": layer},
                              summary=[("bus depots", len(layer))], sections=[(self.title, f"{len(layer)} depots")],
                              metadata={"depots": len(layer)}, raw=layer)

    return BusDepotTier


def _brute_force(cov: np.ndarray) -> int:
    n = cov.shape[1]
    for k in range(1, n + 1):
        for combo in itertools.combinations(range(n), k):
            if cov[:, list(combo)].any(axis=1).all():
                return k
    raise AssertionError("no cover")


@pytest.mark.parametrize("joint", [False, True])
def test_a_registered_tier_runs_through_plan_and_export(tmp_path, monkeypatch, joint):
    import sys

    import gzcharge.tiers as tiers
    from gzcharge.plan import PlanInputs, run_plan, write_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    mod = type(sys)("gz_test_bus_depot")
    mod.BusDepotTier = _make_tier()
    monkeypatch.setitem(sys.modules, "gz_test_bus_depot", mod)
    monkeypatch.setattr(tiers, "REGISTRY", {"bus_depot": "gz_test_bus_depot:BusDepotTier"})  # the one line

    region = get_region("安顺市")
    overrides = ["joint.enabled=true", "joint.years=[2025]", "joint.tiers=[]", "joint.marginal=false",
                 "joint.targets={}"] if joint else []
    scen = load_scenario(default_scenario_path("安顺市"), overrides=overrides)
    if joint:
        scen.joint.tiers = ["bus_depot"]  # tier names beyond the built-in four are the registry's
    plan = run_plan(region, scen, PlanInputs())
    res = plan.results["bus_depot"]
    seats = _seats(region)
    expected = _brute_force(_cover(seats, region.metric_crs))
    assert 1 <= expected < len(seats)  # a real choice: not every seat, not trivially one
    assert res.objective == pytest.approx(expected)
    assert len(res.layers["bus_depot_stations"]) == expected
    written = write_plan(plan, tmp_path / "depots.gpkg")
    import pyogrio

    names = [n for n, _ in pyogrio.list_layers(written[0])]
    assert "bus_depot_stations" in names
    md = next(p for p in written if p.suffix == ".md").read_text(encoding="utf-8")
    assert "Bus depots (toy tier)" in md
