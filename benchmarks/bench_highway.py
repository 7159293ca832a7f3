"""Province-scale synthetic benchmark of the highway tier.

Instance (seeded): an 11 × 8 grid of county seats ~50 km apart (jittered ±8 km), corridors
along the grid edges (157 corridors, ≈ 8,000 km), 88 origins → 3,828 OD pairs (gravity model,
beta 1.5, seeded log-normal populations), service areas at 1/3 and 2/3 of every corridor
(314 candidates), effective range 200 km, max gap 50 km.

Run: ``python benchmarks/bench_highway.py [--stations 60 | --min-cost 0.9] [--no-gap]``. Prints the build
times, the model size (site and path variables, arc-cover and gap-window constraints) and the
solve time, status and gap of every solver stage. Default mode: the gap rule alone sets the
cost (min-cost stage), then the refuelled flow is maximised at that cost (second stage).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def instance(seed: int = 7):
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    rng = np.random.default_rng(seed)
    nx_, ny_ = 11, 8
    step = 50_000.0
    xy = {(i, j): (i * step + rng.uniform(-8000, 8000), j * step + rng.uniform(-8000, 8000))
          for i in range(nx_) for j in range(ny_)}
    lines, sa = [], []
    for (i, j), p in sorted(xy.items()):
        for q in ((i + 1, j), (i, j + 1)):
            if q in xy:
                ln = LineString([p, xy[q]])
                lines.append(ln)
                sa += [ln.interpolate(1 / 3, normalized=True), ln.interpolate(2 / 3, normalized=True)]
    crs = "EPSG:4545"
    corr = gpd.GeoDataFrame({"ref": [f"C{k}" for k in range(len(lines))]}, geometry=lines, crs=crs)
    sas = gpd.GeoDataFrame({"name": [f"SA{k}" for k in range(len(sa))]}, geometry=sa, crs=crs)
    seats = gpd.GeoDataFrame(
        {"settlement_id": [f"{i:02d}{j:02d}" for (i, j) in sorted(xy)],
         "name": [f"seat {i}-{j}" for (i, j) in sorted(xy)],
         "population": rng.lognormal(np.log(400_000), 0.5, len(xy)).round()},
        geometry=[Point(xy[k]) for k in sorted(xy)], crs=crs)
    return corr, sas, seats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, default=None, help="new stations (max_flow); default: min-cost gap rule")
    ap.add_argument("--min-cost", type=float, default=None, metavar="SHARE",
                    help="min_cost mode with this target share of refuelled flow")
    ap.add_argument("--no-gap", action="store_true", help="drop the maximum-gap rule (pure flow refuelling)")
    args = ap.parse_args()
    from gzcharge.highway.candidates import build_candidates
    from gzcharge.highway.corridors import build_corridors
    from gzcharge.highway.model import (
        assess_highway,
        gap_windows,
        prepare_highway_from,
        solve_highway,
    )
    from gzcharge.highway.traffic import build_traffic
    from gzcharge.scenario.highway import HighwayParams

    kw = {"mode": "min_cost", "target_flow_share": args.min_cost} if args.min_cost is not None else {"stations": args.stations}
    params = HighwayParams(seat_access_max_km=15, enforce_gap=not args.no_gap, **kw)
    t = time.perf_counter()
    corr, sas, seats = instance()
    cg = build_corridors(corr, carriageway_merge_m=0, endpoint_snap_m=10)
    t_corr = time.perf_counter() - t
    t = time.perf_counter()
    cs = build_candidates(cg, params, service_areas=sas)
    t_cand = time.perf_counter() - t
    t = time.perf_counter()
    tr = build_traffic(cs.corridors, params, seats)
    t_tr = time.perf_counter() - t
    t = time.perf_counter()
    windows, unmet = gap_windows(cs.corridors.graph, cs.sites["node"].tolist(), params.max_gap_km)
    t_win = time.perf_counter() - t
    nodes_on_paths = int(tr.od["path"].map(len).sum())
    print(f"corridors: {cg.length_km:,.0f} km, {cg.graph.number_of_nodes()} nodes, {len(cg.components)} component(s) "
          f"[{t_corr:.2f} s]")
    print(f"candidates: {len(cs.sites)} ({int(cs.sites['synthetic'].sum())} synthetic) [{t_cand:.2f} s]")
    print(f"OD paths: {len(tr.od)}, nodes on paths {nodes_on_paths:,} [{t_tr:.2f} s]")
    print(f"gap windows: {len(windows)} (unmet {len(unmet)}) [{t_win:.2f} s]")
    t = time.perf_counter()
    prep = prepare_highway_from(cs, tr, params)
    t_prep = time.perf_counter() - t
    t = time.perf_counter()
    sol = solve_highway(prep, params)
    t_solve = time.perf_counter() - t
    res = assess_highway(prep, sol, params)
    blk = prep.block
    print(f"block: {len(blk.site_ids)} sites, {len(blk.path_ids):,} paths, {len(blk.set_path):,} arc-cover sets, "
          f"{len(blk.covers)} gap windows [{t_prep:.2f} s]")
    for st in sol.size.get("stages", [{"objective": sol.objective_kind, "status": sol.status, "gap": sol.gap}]):
        print(f"  stage {st['objective']}: status {st['status']}, gap {st['gap']:.4%}")
    share = float(sol.service["share"].iloc[-1]) if len(sol.service) else float("nan")
    print(f"solve_highway: {t_solve:.1f} s, status {sol.status}, gap {sol.gap:.4%}, stations "
          f"{len(res.highway_stations)}, refuelled share {share:.1%}, "
          f"gap rule met on all segments: {bool(res.expressway_segments['gap_ok'].all())}")

if __name__ == "__main__":
    main()
