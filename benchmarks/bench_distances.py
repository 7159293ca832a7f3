"""Benchmark: network cost matrix on a 150k-node road-like graph, 5,000 sites, 10 km cutoff.

Compares, on the same seeded graph (:func:`roadlike.road_like_graph`) and the same points:

* ``engine``      -- :func:`gzcharge.distances.network_costs_csgraph` (ball subgraphs, runs
  from the smaller side -- here the 5,000 sites, on the transposed graph);
* ``engine_demand_side`` -- the same algorithm forced to run from the 20,000 demand points;
* ``plain10`` / ``plain200`` -- ``scipy.sparse.csgraph.dijkstra(limit=cutoff)`` from the sites
  in chunks of 10 / 200 sources, keeping the demand columns of each dense block;
* ``networkx``    -- ``nx.single_source_dijkstra_path_length(G, s, cutoff=)`` per site
  (graph conversion timed separately).

Each method runs in its own subprocess so that its peak resident memory (``ru_maxrss``) is
its own; the graph is rebuilt identically in each. Results are compared pair by pair with
the networkx result on **all** sources (same pair set, values equal to ``rtol=1e-12``;
sums taken in the opposite order differ in the last bits).

Run::

    python benchmarks/bench_distances.py              # all methods, prints a table
    python benchmarks/bench_distances.py --quick      # 20k nodes, 500 sites (smoke test)
    python benchmarks/bench_distances.py --oneway-frac 0.15   # directed: 15 % one-way roads
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from roadlike import road_like_graph  # noqa: E402

METHODS = ("engine", "engine_demand_side", "plain10", "plain200", "networkx")


def _setup(n_nodes: int, n_sites: int, n_demand: int, seed: int, oneway_frac: float = 0.0):
    t0 = time.perf_counter()
    adj, _xy = road_like_graph(n_nodes, seed, oneway_frac=oneway_frac)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed + 1)
    sites = rng.choice(adj.shape[0], n_sites, replace=False)
    demand = rng.integers(0, adj.shape[0], n_demand)  # demand may share nodes
    return adj, sites, demand, build_s


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_method(method: str, args: argparse.Namespace, out: Path) -> None:
    """Run one method in this process; save (demand idx, site idx, cost) triplets and stats."""
    from scipy.sparse import csgraph

    from gzcharge.distances import _cutoff_dijkstra, network_costs_csgraph

    adj, sites, demand, build_s = _setup(
        args.nodes, args.sites, args.demand, args.seed, args.oneway_frac
    )
    cutoff = args.cutoff_m
    rss0 = _maxrss_mb()
    extra: dict = {}
    t0 = time.perf_counter()
    if method == "engine":
        cm = network_costs_csgraph(adj, demand, sites, cutoff=cutoff)
        coo = cm.values.tocoo()
        i, j, v = coo.row, coo.col, coo.data
        extra["ran_from"] = cm.meta["ran_from"]
    elif method == "engine_demand_side":
        i, j, v = _cutoff_dijkstra(adj, demand, sites, cutoff)
    elif method.startswith("plain"):
        chunk = int(method[5:])
        # cost demand -> site = site -> demand on the transpose (symmetric here anyway)
        rev = adj.T.tocsr()
        parts_i, parts_j, parts_v = [], [], []
        for k in range(0, sites.size, chunk):
            block = csgraph.dijkstra(rev, indices=sites[k : k + chunk], limit=cutoff)[:, demand]
            r, c = np.nonzero(np.isfinite(block))
            parts_j.append(k + r)
            parts_i.append(c)
            parts_v.append(block[r, c])
        i, j, v = np.concatenate(parts_i), np.concatenate(parts_j), np.concatenate(parts_v)
    elif method == "networkx":
        import networkx as nx

        g = nx.from_scipy_sparse_array(adj.T.tocsr(), create_using=nx.DiGraph)
        extra["nx_graph_build_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # demand positions per node (demand may repeat nodes)
        order = np.argsort(demand, kind="stable")
        nodes_sorted = demand[order]
        parts_i, parts_j, parts_v = [], [], []
        for j_site, s in enumerate(sites):
            dist = nx.single_source_dijkstra_path_length(g, int(s), cutoff=cutoff)
            reached = np.fromiter(dist.keys(), dtype=np.int64, count=len(dist))
            cost = np.fromiter(dist.values(), dtype=float, count=len(dist))
            lo = np.searchsorted(nodes_sorted, reached, side="left")
            hi = np.searchsorted(nodes_sorted, reached, side="right")
            cnt = hi - lo
            rep = np.repeat(np.arange(reached.size), cnt)
            pos = np.repeat(lo, cnt) + (np.arange(rep.size) - np.repeat(np.cumsum(cnt) - cnt, cnt))
            parts_i.append(order[pos])
            parts_j.append(np.full(rep.size, j_site))
            parts_v.append(cost[rep])
        i, j, v = np.concatenate(parts_i), np.concatenate(parts_j), np.concatenate(parts_v)
    else:
        raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - t0
    stats = {
        "method": method,
        "seconds": seconds,
        "nnz": int(v.size),
        "graph_build_s": build_s,
        "rss_before_mb": rss0,
        "peak_rss_mb": _maxrss_mb(),
        "n_nodes": int(adj.shape[0]),
        "n_edges": int(adj.nnz),
        **extra,
    }
    np.savez(out / f"{method}.npz", i=np.asarray(i), j=np.asarray(j), v=np.asarray(v))
    (out / f"{method}.json").write_text(json.dumps(stats))


def _load(out: Path, method: str):
    z = np.load(out / f"{method}.npz")
    key = z["i"].astype(np.int64) * 10_000_000 + z["j"]
    order = np.argsort(key)
    return key[order], z["v"][order]


def main() -> None:
    """Parse arguments, run every method in a subprocess, compare and print a table."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--nodes", type=int, default=150_000)
    p.add_argument("--sites", type=int, default=5_000)
    p.add_argument("--demand", type=int, default=20_000)
    p.add_argument("--cutoff-m", type=float, default=10_000.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--oneway-frac", type=float, default=0.0, help="share of one-way local roads")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--quick", action="store_true", help="20k nodes, 500 sites, 2,000 demand")
    p.add_argument("--_run", help=argparse.SUPPRESS)
    p.add_argument("--_out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:
        args.nodes, args.sites, args.demand = 20_000, 500, 2_000
    if args._run:
        run_method(args._run, args, Path(args._out))
        return

    methods = [m for m in args.methods.split(",") if m]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        load_before = os.getloadavg()
        for m in methods:
            cmd = [sys.executable, __file__, "--_run", m, "--_out", tmp, "--nodes", str(args.nodes)]
            cmd += ["--sites", str(args.sites), "--demand", str(args.demand)]
            cmd += ["--cutoff-m", str(args.cutoff_m), "--seed", str(args.seed)]
            cmd += ["--oneway-frac", str(args.oneway_frac)]
            subprocess.run(cmd, check=True)
            print(f"  done {m}: load {os.getloadavg()[0]:.2f}", file=sys.stderr)
        load_after = os.getloadavg()
        stats = {m: json.loads((out / f"{m}.json").read_text()) for m in methods}
        ref_name = "networkx" if "networkx" in methods else methods[0]
        ref_k, ref_v = _load(out, ref_name)
        for m in methods:
            k, v = _load(out, m)
            same_pairs = np.array_equal(k, ref_k)
            stats[m]["same_pairs_as_" + ref_name] = bool(same_pairs)
            stats[m]["max_rel_diff"] = (
                float(np.max(np.abs(v - ref_v) / np.maximum(ref_v, 1e-9)))
                if same_pairs and v.size
                else None
            )

    first = next(iter(stats.values()))
    print(
        f"graph: {first['n_nodes']:,} nodes, {first['n_edges']:,} directed edges (built in "
        f"{first['graph_build_s']:.2f} s); {args.sites:,} sites x {args.demand:,} demand, "
        f"cutoff {args.cutoff_m:,.0f} m; load avg before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"on {os.cpu_count()} cores"
    )
    ref_s = stats.get("networkx", {}).get("seconds")
    print(
        f"{'method':<20}{'seconds':>9}{'vs nx':>8}{'base MB':>9}{'peak MB':>9}{'nnz':>12}  same pairs  max rel diff"
    )
    for m, s in stats.items():
        speed = f"{ref_s / s['seconds']:.1f}x" if ref_s else "-"
        diff = "-" if s["max_rel_diff"] is None else f"{s['max_rel_diff']:.1e}"
        print(
            f"{m:<20}{s['seconds']:>9.2f}{speed:>8}{s['rss_before_mb']:>9.0f}{s['peak_rss_mb']:>9.0f}{s['nnz']:>12,}  "
            f"{s['same_pairs_as_' + ref_name]!s:<10}  {diff}"
        )
    if "networkx" in stats:
        print(
            f"(networkx graph conversion {stats['networkx']['nx_graph_build_s']:.2f} s not included)"
        )
    bad = [
        m
        for m, s in stats.items()
        if not s["same_pairs_as_" + ref_name] or (s["max_rel_diff"] or 0) > 1e-12
    ]
    if bad:
        raise SystemExit(f"results differ from {ref_name}: {bad}")


if __name__ == "__main__":
    main()
