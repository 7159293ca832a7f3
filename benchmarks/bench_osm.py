"""Benchmark: read an OSM extract to a projected drive graph (RoadNetwork).

Default input is the Kouvola PBF in ../shared/data/osm (OSM © OpenStreetMap contributors, ODbL).
Reports import time, wall-clock seconds of ``graph_from_file`` and ``RoadNetwork.from_graph``
(median of ``--repeat`` runs), the Python-allocation peak (tracemalloc, separate run) and the
process peak resident set (``ru_maxrss``).

Usage::

    python benchmarks/bench_osm.py [--osm-file F] [--repeat 5] [--bbox minlon,minlat,maxlon,maxlat]
    python benchmarks/bench_osm.py --synthetic 300   # 300 x 300 street grid near Anshun, as PBF
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT = ROOT.parent / "shared" / "data" / "osm" / "kouvola_fi.osm.pbf"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def write_grid_pbf(path: Path, n: int) -> None:
    """A synthetic n × n street grid (~100 m spacing) near Anshun as an OSM PBF file.

    Every 10th row/column is a two-way primary road, the rest one-way-free residential
    streets; rows are ways from west to east, columns from south to north.
    """
    import osmium

    step = 0.001
    with osmium.SimpleWriter(str(path), overwrite=True) as w:
        for i in range(n):
            for j in range(n):
                w.add_node(osmium.osm.mutable.Node(id=1 + i * n + j, location=(105.9 + j * step, 26.2 + i * step)))
        wid = 1
        for i in range(n):
            tags = {"highway": "primary" if i % 10 == 0 else "residential"}
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[1 + i * n + j for j in range(n)], tags=tags))
            wid += 1
        for j in range(n):
            tags = {"highway": "primary" if j % 10 == 0 else "residential"}
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[1 + i * n + j for i in range(n)], tags=tags))
            wid += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--osm-file", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--bbox", type=str, default=None, help="region as minlon,minlat,maxlon,maxlat")
    ap.add_argument("--synthetic", type=int, default=0, help="benchmark an N x N synthetic grid PBF instead")
    args = ap.parse_args()
    if args.synthetic:
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="gzcharge-bench-"))
        args.osm_file = tmp / f"grid{args.synthetic}.osm.pbf"
        write_grid_pbf(args.osm_file, args.synthetic)

    rss0 = _rss_mb()
    t = time.perf_counter()
    import osmnx  # noqa: F401
    import shapely

    from gzcharge.network import RoadNetwork
    from gzcharge.sources.osm import graph_from_file

    t_import = time.perf_counter() - t
    rss_import = _rss_mb()
    polygon = shapely.box(*map(float, args.bbox.split(","))) if args.bbox else None

    def run() -> tuple[float, float, RoadNetwork]:
        t0 = time.perf_counter()
        G = graph_from_file(args.osm_file, polygon=polygon)
        t1 = time.perf_counter()
        net = RoadNetwork.from_graph(G)
        net.csgraph("length_m")
        net.components()
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, net

    run()  # warm-up (first use of pyproj/osmnx internals)
    reads, projs = [], []
    for _ in range(args.repeat):
        a, b, net = run()
        reads.append(a)
        projs.append(b)
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    size_kb = args.osm_file.stat().st_size / 1024
    s = net.summary()
    print(f"input            {args.osm_file.name} ({size_kb:,.0f} KiB)")
    print(f"graph            {s['nodes']:,} nodes, {s['edges']:,} edges, {s['length_km']:,.1f} km, "
          f"{s['expressway_km']:,.1f} km expressway, CRS {s['crs']}")
    print(f"import osmnx+gz  {t_import:.2f} s (RSS {rss0:.0f} -> {rss_import:.0f} MiB)")
    print(f"graph_from_file  median {statistics.median(reads):.3f} s (min {min(reads):.3f}, n={len(reads)})")
    print(f"project+annotate median {statistics.median(projs):.3f} s (min {min(projs):.3f})")
    print(f"total            median {statistics.median([a + b for a, b in zip(reads, projs, strict=True)]):.3f} s")
    print(f"tracemalloc peak {peak / 2**20:.1f} MiB (Python allocations during one read + projection)")
    print(f"peak RSS         {_rss_mb():.0f} MiB (whole process, incl. imports)")


if __name__ == "__main__":
    main()
