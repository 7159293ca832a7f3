"""Gap windows and highway preparation on real corridor skeletons (安顺市 and the whole province).

Instance: the OSM trunk-road skeleton ``trunk_roads_osm_scgraph.geojson`` of the shared data
(straight pieces between graph nodes, both carriageways where OSM maps them, ramp clusters at
interchanges) — clipped to the prefecture boundary buffered by 0.05° for 安顺市, unclipped for
贵州省 — and the AMap expressway service areas (``expressway_service_areas_amap.csv``, WGS-84
columns renamed to ``lon``/``lat``), i.e. what ``gzcharge plan --expressways ... --service-areas
...`` reads. Default highway parameters (max gap 50 km).

Run: ``python benchmarks/bench_gap_windows.py [--region 安顺市 --region 贵州省] [--gap 50]``. Prints per
region: the corridor graph (nodes, edges, degrees), the candidates, the time of
``prepare_highway`` (corridors, candidates with synthetic sites, traffic, gap windows, core
block), the gap windows in the model and the unmet ones, and the time of the two gap computations
alone on the prepared graph (``gap_window_sets``, and ``gap_stretches`` with every candidate open,
as the report does).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path("/work/shared/data/guizhou")


def inputs(region_name: str, tmp: Path):
    """Expressway GeoJSON and service-area CSV of ``region_name`` in ``tmp``; returns (region, lines, csv)."""
    import geopandas as gpd
    import pandas as pd

    from gzcharge.region import get_region

    region = get_region(region_name)
    roads = gpd.read_file(DATA / "trunk_roads_osm_scgraph.geojson")
    if region_name != "贵州省":
        roads = roads[roads.intersects(region.boundary.buffer(0.05))]
    lines = tmp / "expressways.geojson"
    roads[["geometry"]].to_file(lines, driver="GeoJSON")
    sa = pd.read_csv(DATA / "expressway_service_areas_amap.csv")
    sa = sa.rename(columns={"lon_wgs84": "lon", "lat_wgs84": "lat"})[["name", "lon", "lat"]]
    csv = tmp / "service_areas.csv"
    sa.to_csv(csv, index=False)
    return region, lines, csv


def run(region_name: str, gap: float) -> dict:
    from gzcharge.highway.corridors import corridors_from_file, gap_stretches, gap_window_sets
    from gzcharge.highway.model import prepare_highway
    from gzcharge.scenario.highway import HighwayParams

    params = HighwayParams(max_gap_km=gap, synthetic_spacing_km=min(10.0, gap))
    with tempfile.TemporaryDirectory() as d:
        region, lines, csv = inputs(region_name, Path(d))
        cg = corridors_from_file(lines, endpoint_snap_m=params.endpoint_snap_m, carriageway_merge_m=0.0,
                                 interchange_merge_m=params.interchange_merge_m)
        t0 = time.perf_counter()
        prep = prepare_highway(params, region=region, expressways=lines, service_areas=csv)
        t_prep = time.perf_counter() - t0
    G = prep.corridors.graph
    cand = prep.sites["node"].tolist()
    t0 = time.perf_counter()
    sets, _ = gap_window_sets(G, cand, max_gap_km=gap)
    t_win = time.perf_counter() - t0
    t0 = time.perf_counter()
    gap_stretches(G, cand, starts=cand, max_gap_km=gap)
    t_str = time.perf_counter() - t0
    return {
        "region": region_name,
        "nodes": cg.graph.number_of_nodes(),
        "edges": cg.graph.number_of_edges(),
        "degrees": dict(sorted(Counter(dict(cg.graph.degree()).values()).items())),
        "prepared nodes/edges": f"{G.number_of_nodes()}/{G.number_of_edges()}",
        "candidates": dict(Counter(prep.sites["kind"])),
        "od paths": len(prep.traffic.od),
        "prepare_highway s": round(t_prep, 2),
        "window sets (before minimal)": len(sets),
        "windows in model": len(prep.windows),
        "unmet windows": len(prep.unmet),
        "gap_window_sets s": round(t_win, 2),
        "gap_stretches (all open) s": round(t_str, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--region", action="append", help="region name (repeatable); default 安顺市 and 贵州省")
    ap.add_argument("--gap", type=float, default=50.0, help="highway.max_gap_km")
    a = ap.parse_args()
    for name in a.region or ["安顺市", "贵州省"]:
        for k, v in run(name, a.gap).items():
            print(f"{k:>30}: {v}")
        print()


if __name__ == "__main__":
    main()
