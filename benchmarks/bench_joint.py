"""Province-scale benchmark of the joint plan (all tiers, 4 yearly phases).

Instance: the whole province (9 prefectures, 88 counties) with the shared township file
(``../shared/data/guizhou/township_seats_2016.csv``); public tier in screening mode; swap
tier with the default per-capita fleets; highway fast charging and hydrogen on a
**synthetic** expressway network (no real Guizhou expressways are available offline):
straight corridors between county seats along the Delaunay triangulation, edges up to
``--max-edge-km`` (default 90 km) long, service areas at 1/3 and 2/3 of every corridor;
the highway tier's gravity OD between county seats gives EV and truck flows.

Phases: 2026–2030 (the 15th Five-Year Plan, as ``models/default.toml``) with yearly budgets (``--budget`` CNY per year, default 2e9: with the
current model 4e8 and 8e8 a year are proved infeasible, benchmarks/README.md Session 4) and
targets rising by year (public 40/55/70/85 % covered EVs, swap 20/40/60/80/100 %, highway
30/50/65/80 % refuelled flow, hydrogen 10/30/45/60 %), the tiers' hard rules from 2030.

Run: ``python benchmarks/bench_joint.py [--objective min_cost|max_service] [--budget 2e9]
[--time-limit 100] [--no-marginal]``; the time limit bounds the whole joint call (main solve and
marginal re-solves), the data preparation (~5 s) comes on top. Prints model size, build and solve time, status, gap,
cost by tier and year and the marginal-budget table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TOWNSHIPS = ROOT.parent / "shared" / "data" / "guizhou" / "township_seats_2016.csv"


def synthetic_corridors(region, max_edge_km: float = 90.0):
    """Corridor lines between county seats (Delaunay edges <= max_edge_km) and service areas."""
    import geopandas as gpd
    from scipy.spatial import Delaunay
    from shapely.geometry import LineString

    s = region.settlements
    seats = s[s["kind"].isin(["county_seat", "prefecture_seat"])].drop_duplicates("county_adcode")
    pts = seats.geometry.to_crs(region.metric_crs)
    xy = np.column_stack([pts.x, pts.y])
    tri = Delaunay(xy)
    edges = set()
    for a, b, c in tri.simplices:
        for u, v in ((a, b), (b, c), (a, c)):
            edges.add((min(u, v), max(u, v)))
    lines, sas = [], []
    for u, v in sorted(edges):
        if np.hypot(*(xy[u] - xy[v])) <= max_edge_km * 1000:
            ln = LineString([xy[u], xy[v]])
            lines.append(ln)
            sas += [ln.interpolate(1 / 3, normalized=True), ln.interpolate(2 / 3, normalized=True)]
    corr = gpd.GeoDataFrame({"ref": [f"S{k}" for k in range(len(lines))]}, geometry=lines, crs=region.metric_crs)
    sa = gpd.GeoDataFrame({"name": [f"服务区{k}" for k in range(len(sas))]}, geometry=sas, crs=region.metric_crs)
    return corr, sa


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objective", default="min_cost", choices=["min_cost", "max_service"])
    ap.add_argument("--budget", type=float, default=2e9, help="budget per year (CNY); 0 = none (min_cost only)")
    ap.add_argument("--time-limit", type=float, default=100.0)
    ap.add_argument("--gap", type=float, default=1e-3)
    ap.add_argument("--max-edge-km", type=float, default=90.0)
    ap.add_argument("--no-marginal", action="store_true")
    ap.add_argument("--area", default="贵州省")
    args = ap.parse_args()

    import tempfile

    import pandas as pd

    from gzcharge.plan import PlanInputs, run_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import load_scenario
    from gzcharge.scenario.joint import JointParams

    t0 = time.perf_counter()
    region = get_region(args.area).with_townships(TOWNSHIPS)
    scen = load_scenario()
    corr, sa = synthetic_corridors(region, args.max_edge_km)
    print(f"region {region.name}: {len(region.counties)} counties; synthetic corridors {len(corr)} "
          f"({corr.length.sum() / 1000:,.0f} km), {len(sa)} service areas; load {time.perf_counter() - t0:.1f} s")
    years = [2026, 2027, 2028, 2029, 2030]
    targets = {"public": [0.4, 0.55, 0.7, 0.85, None], "swap": [0.2, 0.4, 0.6, 0.8, 1.0],
               "highway": [0.3, 0.5, 0.65, 0.8, 0.8], "hydrogen": [0.1, 0.3, 0.45, 0.6, 0.6]}
    budgets = [args.budget] * len(years) if args.budget > 0 else None
    scen.joint = JointParams(enabled=True, years=years, budgets_cny=budgets, carry_over=True,
                             objective=args.objective, targets=targets if args.objective == "min_cost" else {},
                             time_limit_s=args.time_limit, mip_rel_gap=args.gap, marginal=not args.no_marginal)
    tmp = Path(tempfile.mkdtemp())
    corr.to_file(tmp / "corridors.geojson", driver="GeoJSON")
    ll = sa.to_crs("EPSG:4326")
    pd.DataFrame({"name": ll["name"], "lon": ll.geometry.x, "lat": ll.geometry.y}).to_csv(tmp / "sa.csv", index=False)
    t1 = time.perf_counter()
    plan = run_plan(region, scen, PlanInputs(expressways=str(tmp / "corridors.geojson"),
                                             service_areas=str(tmp / "sa.csv"), townships=str(TOWNSHIPS)),
                    progress=lambda m, f: print(f"  [{time.perf_counter() - t1:6.1f} s] {m}", flush=True))
    wall = time.perf_counter() - t1
    res = plan.joint
    s = res.solution
    print(f"\nmodel: {s.size['columns']:,} columns ({s.size['integer_columns']:,} integer), {s.size['rows']:,} rows, "
          f"{s.size['nonzeros']:,} nonzeros")
    print(f"build {s.size['build_s']:.1f} s, solve {s.size['solve_s']:.1f} s, status {s.status}, gap {s.gap:.3%}, "
          f"warm start: {s.size.get('warm_start', 'none')}")
    print("timings:", {k: round(v, 1) for k, v in res.timings.items()}, f"plan_joint wall {wall:.1f} s")
    print("\ncost by tier (CNY):")
    print(res.joint_costs[res.joint_costs["year"] == "total"].to_string(index=False))
    print("cost driver:", res.cost_driver)
    print("\nservice by tier and year:")
    print(res.joint_service.pivot(index="tier", columns="year", values="share").round(3).to_string())
    print("\nsites:", {k: len(v) for k, v in plan.layers().items() if hasattr(v, "geometry")})
    if res.joint_marginal is not None:
        print("\nmarginal budget:")
        print(res.joint_marginal.to_string(index=False))
    for n in res.notes:
        print("note:", n)


if __name__ == "__main__":
    main()
