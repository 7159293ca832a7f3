"""Highway tier on Guizhou's real geography: build and solve times of the province plan.

Instance: the built-in OSM trunk-road skeleton (``gzcharge/data/guizhou_trunk_roads.csv``,
scgraph_data, ODbL) clipped to the region, its province-border gateways with through traffic, the
county seats (2020 census) as gravity OD points and — when ``../shared/data`` is beside the
checkout — the Amap expressway service areas (test use only; read here, never copied). Default
highway parameters unless ``--set key=value`` is given.

Run: ``python benchmarks/bench_highway_real.py [--region 贵州省] [--no-service-areas] [--set all_service_areas=false]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
SA_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "guizhou" / "expressway_service_areas_amap.csv"


def main() -> None:
    import geopandas as gpd
    import pandas as pd

    from gzcharge.highway.model import (
        assess_highway,
        county_seat_points,
        prepare_highway,
        solve_highway,
    )
    from gzcharge.region import get_region
    from gzcharge.scenario.highway import HighwayParams

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--region", default="贵州省")
    ap.add_argument("--no-service-areas", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()
    params = HighwayParams(**dict(kv.split("=", 1) for kv in a.set))
    region = get_region(a.region)
    sa = None
    if not a.no_service_areas and SA_FILE.exists():
        d = pd.read_csv(SA_FILE)
        sa = gpd.GeoDataFrame({"name": d["name"]}, geometry=gpd.points_from_xy(d["lon_wgs84"], d["lat_wgs84"]),
                              crs=4326)
        sa = sa[sa.within(region.boundary)].reset_index(drop=True)
    t0 = time.perf_counter()
    prep = prepare_highway(params, region=region, service_areas=sa, settlements=county_seat_points(region))
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    sol = solve_highway(prep, params, time_limit_s=120)
    t_solve = time.perf_counter() - t0
    res = assess_highway(prep, sol, params)
    st = res.highway_stations
    cg = prep.corridors
    rows = {
        "region": a.region, "corridors": prep.details["road_source"],
        "corridor km": round(cg.length_km), "nodes/edges": f"{cg.graph.number_of_nodes()}/{cg.graph.number_of_edges()}",
        "gateways": len(prep.details["gateways"]), "candidates": prep.sites["kind"].value_counts().to_dict(),
        "od paths": len(prep.traffic.od), "gap windows": len(prep.windows), "build s": round(t_build, 1),
        "solve s": round(t_solve, 1), "status": sol.status, "gap": sol.gap,
        "stations": st["kind"].value_counts().to_dict(), "plugs": int(st["plugs"].sum()),
        "refuelled share": round(res.details["refuelled_share"], 3),
    }
    for k, v in rows.items():
        print(f"{k:>16}: {v}")


if __name__ == "__main__":
    main()
