"""Benchmark: big OSM files → array road network (and a network-mode plan), time and peak RSS.

Writes synthetic PBFs (:mod:`benchmarks.synthetic_pbf`: a curved road lattice with 3 shape
nodes per edge, one-way streets, motorways, untagged nodes, footways, parking aisles, streams)
over 安顺市 at the requested raw-node counts, then, each in a fresh child process:

* ``read``: :meth:`gzcharge.network.RoadNetwork.from_osm_file` (scan + chain merge + projection)
  with an empty cache, then again from the cache (``cached``);
* ``plan`` (``--plan-size``): ``gzcharge plan --prefecture 安顺市 --osm-file F --tiers public
  --set distance.mode="network"`` — road distances on the whole graph.

Peak RSS is ``ru_maxrss`` of each child (``os.wait4``).

Usage::

    python benchmarks/bench_pbf.py --sizes 1e6,3e6,6e6 --plan-size 3e6 [--workdir /tmp/pbf]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

#: 安顺市's bounding box (its built-in boundary), so the plan has real demand on the lattice
BBOX = (105.2, 25.3, 106.62, 26.68)


def _child(code: str) -> tuple[dict, float, float]:
    """Run ``code`` in a fresh interpreter; return its JSON line, wall seconds and peak RSS (MB).

    The peak is the child's own ``ru_maxrss``, from ``os.wait4`` (the rusage of that child only;
    ``RUSAGE_CHILDREN`` would report the largest child so far).
    """
    t = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(err.read()[-3000:])
        line = out.read().strip().splitlines()[-1]
    return json.loads(line), wall, usage.ru_maxrss / 1024.0


READ = """
import json, time
from gzcharge.network import RoadNetwork
t = time.perf_counter()
net = RoadNetwork.from_osm_file({path!r}, cache_dir={cache!r})
t_read = time.perf_counter() - t
t = time.perf_counter()
A, _ = net.csgraph("length_m"); labels = net.component
t_cs = time.perf_counter() - t
print(json.dumps({{"nodes": len(net.node_ids), "edges": int(A.nnz), "seconds": t_read, "csgraph_s": t_cs}}))
"""

PLAN = """
import json, subprocess, sys, time
t = time.perf_counter()
from typer.testing import CliRunner
from gzcharge.cli import app
r = CliRunner().invoke(app, ["plan", "--prefecture", "安顺市", "--osm-file", {path!r}, "--tiers", "public",
                             "--set", 'distance.mode="network"', "--no-report", "--out", {out!r}])
assert r.exit_code == 0, r.output
print(json.dumps({{"seconds": time.perf_counter() - t}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e6,3e6,6e6", help="raw node counts, comma-separated")
    ap.add_argument("--plan-size", type=float, default=3e6, help="size of the file the plan runs on (0: none)")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    from synthetic_pbf import write_synthetic_pbf

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-pbf-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()}  (2 cores shared)")
    rows = []
    for size in sorted(float(s) for s in args.sizes.split(",")):
        path = work / f"synthetic_{int(size)}.osm.pbf"
        t = time.perf_counter()
        counts = write_synthetic_pbf(path, int(size), BBOX) if not path.exists() else {"raw_nodes": None}
        gen_s = time.perf_counter() - t
        if counts["raw_nodes"] is None:
            counts = json.loads((work / f"{path.name}.json").read_text())
        else:
            (work / f"{path.name}.json").write_text(json.dumps(counts))
        cache = work / f"cache_{int(size)}"
        for f in cache.glob("*.npz") if cache.exists() else []:
            f.unlink()
        out, wall, rss = _child(READ.format(path=str(path), cache=str(cache)))
        out2, wall2, _ = _child(READ.format(path=str(path), cache=str(cache)))
        raw = counts["raw_nodes"]
        row = {"raw_nodes": raw, "file_mb": path.stat().st_size / 1e6, "graph_nodes": out["nodes"],
               "graph_edges": out["edges"], "read_s": out["seconds"], "child_wall_s": wall,
               "cached_read_s": out2["seconds"], "peak_rss_mb": rss, "bytes_per_raw_node": rss * 2**20 / raw,
               "generate_s": gen_s, "load": os.getloadavg()[0]}
        print(json.dumps(row), flush=True)
        rows.append(row)
        if args.plan_size and abs(size - args.plan_size) < 1:
            gpkg = work / f"plan_{int(size)}.gpkg"
            gpkg.unlink(missing_ok=True)
            # the plan reads the file itself (its own cache folder: the default one, warm after the read)
            pout, pwall, prss = _child(PLAN.format(path=str(path), out=str(gpkg)))
            prow = {"plan_on_raw_nodes": raw, "plan_s": pout["seconds"], "child_wall_s": pwall,
                    "peak_rss_mb": prss, "load": os.getloadavg()[0]}
            print(json.dumps(prow), flush=True)
            rows.append(prow)
    (work / "results.json").write_text(json.dumps(rows, indent=1))
    print(f"results in {work / 'results.json'}")


if __name__ == "__main__":
    main()
