"""Benchmark the coverage models (gzcharge.locate.max_cover) against HiGHS alone and spopt.

Instances: a seeded 150,000-node road-like graph (:mod:`benchmarks.roadlike`); demand and
candidate sites are random nodes of a central region of ``2.2 × n_demand`` nodes (so that
10k × 2k has about 168k covering pairs, like the issue's instance); coverage = network
distance <= 3 km by cutoff Dijkstra (``scipy.sparse.csgraph.dijkstra(limit=3000)``) from
the site nodes on the region plus a 3.1 km buffer (exact for paths up to 3 km). Weights
are seeded integers 1..999. ``p`` = sites / 10.

Measured per instance (same time limit for every method):

* modelling overhead: Pyomo build + translation to HiGHS on the full (unreduced) model, and
  on the reduced model that gzcharge actually solves;
* gzcharge ``max_cover`` end to end with ``mip_rel_gap`` 1%, 0.1% and 0.01% (time, status,
  gap, objective, bound), the LP bound, the greedy+swap heuristic value, reduced size;
* optionally HiGHS alone (no reduction, no warm start) and spopt's MCLP (PuLP + HiGHS),
  end to end.

Run from the project root::

    python benchmarks/bench_locate.py --sizes 1k,3k,10k --time-limit 60 --spopt --highs-alone
    python benchmarks/bench_locate.py --sizes 50k --time-limit 60

Results are printed as a Markdown table and written as JSON (``--out``). The machine's
load average is recorded before and after each run (other processes share the cores).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse import csgraph

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.roadlike import road_like_graph  # noqa: E402
from gzcharge.distances import CostMatrix  # noqa: E402

SIZES = {"1k": (1_000, 300), "3k": (3_000, 800), "10k": (10_000, 2_000), "50k": (50_000, 5_000)}
RADIUS_M = 3_000.0
GRAPH_NODES = 150_000


def make_instance(
    n_demand: int, n_sites: int, *, seed: int = 1, graph=None
) -> tuple[CostMatrix, pd.Series]:
    """Seeded coverage instance: CostMatrix (distances <= 3 km stored) and weights."""
    adj, xy = graph if graph is not None else road_like_graph(GRAPH_NODES, seed=seed)
    rng = np.random.default_rng(seed + n_demand)
    centre = xy.mean(axis=0)
    dist_c = np.hypot(*(xy - centre).T)
    order = np.argsort(dist_c, kind="stable")
    region = order[: min(len(order), int(2.2 * n_demand))]
    r_region = dist_c[region].max()
    sub_nodes = np.flatnonzero(dist_c <= r_region + 3_100.0)
    sub = sp.csr_array(adj[sub_nodes][:, sub_nodes])
    local = np.full(len(xy), -1)
    local[sub_nodes] = np.arange(len(sub_nodes))
    demand = np.sort(rng.choice(region, n_demand, replace=False))
    sites = np.sort(rng.choice(region, n_sites, replace=False))
    rows, cols, vals = [], [], []
    for k in range(0, n_sites, 250):
        chunk = sites[k : k + 250]
        d = csgraph.dijkstra(sub, indices=local[chunk], limit=RADIUS_M)[
            :, local[demand]
        ]  # sites × demand
        s_i, d_i = np.nonzero(np.isfinite(d))
        rows.append(d_i)
        cols.append(s_i + k)
        vals.append(d[s_i, d_i])
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals)
    cm = CostMatrix(
        pd.Index([f"d{i}" for i in demand]),
        pd.Index([f"s{j}" for j in sites]),
        sp.csr_array((v, (r, c)), shape=(n_demand, n_sites)),
        unit="m",
        mode="network",
        cutoff=RADIUS_M,
    )
    w = pd.Series(rng.integers(1, 1000, n_demand).astype(float), index=cm.rows)
    return cm, w


def make_random_instance(
    n_demand: int, n_sites: int, *, seed: int = 1, per_row: float = 16.8
) -> tuple[CostMatrix, pd.Series]:
    """Unstructured instance: each demand covered by ~``per_row`` uniformly random sites (hard for MIP)."""
    rng = np.random.default_rng(seed + 7 * n_demand)
    a = sp.random(n_demand, n_sites, density=per_row / n_sites, format="csr", random_state=rng)
    a.data = rng.uniform(0, RADIUS_M, a.nnz)
    cm = CostMatrix(
        pd.Index([f"d{i}" for i in range(n_demand)]),
        pd.Index([f"s{j}" for j in range(n_sites)]),
        sp.csr_array(a),
    )
    w = pd.Series(rng.integers(1, 1000, n_demand).astype(float), index=cm.rows)
    return cm, w


def load() -> str:
    """1-minute load average (other helpers share this machine)."""
    return f"{os.getloadavg()[0]:.2f}"


def modelling_overhead(cm: CostMatrix, w: pd.Series, p: int, *, reduce: bool) -> dict:
    """Pyomo build + HiGHS translation time of the max-cover model (no solve)."""
    from gzcharge.locate import coverage as cov
    from gzcharge.solve import PersistentSolver

    t0 = time.perf_counter()
    d = cov._prepare_data(cm, RADIUS_M, w, None, None, weights_required=False)
    n = d.cover.shape[0]
    inst = cov._reduce_instance(
        d,
        keep_zero_weight=np.zeros(n, dtype=bool),
        must=np.zeros(n, dtype=bool),
        group=np.full(n, -1),
        n_groups=0,
        reduce=reduce,
    )
    t1 = time.perf_counter()
    model = cov._build(cov._MAX_COVER_STEPS, inst, {"p": p, "name": "bench"})
    t2 = time.perf_counter()
    PersistentSolver(model)
    t3 = time.perf_counter()
    return {
        "prepare_reduce_s": t1 - t0,
        "build_s": t2 - t1,
        "translate_s": t3 - t2,
        "overhead_s": t3 - t1,
        "rows": inst.shape[0],
        "sites": inst.shape[1],
        "nnz": int(inst.a.nnz),
    }


def run_gzcharge(cm, w, p, *, gap: float, time_limit_s: float, lp_bound: bool, **kw) -> dict:
    """gzcharge max_cover end to end."""
    from gzcharge.locate.coverage import max_cover

    la = load()
    t = time.perf_counter()
    r = max_cover(
        cm, RADIUS_M, w, p=p, mip_rel_gap=gap, time_limit_s=time_limit_s, lp_bound=lp_bound, **kw
    )
    secs = time.perf_counter() - t
    return {
        "seconds": secs,
        "status": r.status.value,
        "objective": r.objective,
        "bound": r.bound,
        "gap": r.gap,
        "lp_bound": r.details.get("lp_bound"),
        "heuristic": r.details.get("heuristic_objective"),
        "sizes": r.details["sizes"],
        "timings": r.details["timings"],
        "load_before": la,
        "load_after": load(),
    }


def run_spopt(cm: CostMatrix, w: pd.Series, p: int, *, time_limit_s: float) -> dict | None:
    """spopt MCLP (PuLP + HiGHS) end to end from a dense cost matrix; None when spopt is missing."""
    try:
        import pulp
        from spopt.locate import MCLP
    except ImportError as exc:
        logging.warning("spopt/pulp not installed (%s); skipping spopt", exc)
        return None
    la = load()
    t = time.perf_counter()
    dense = cm.to_dataframe().to_numpy(copy=True)
    dense[~np.isfinite(dense)] = 1e9
    model = MCLP.from_cost_matrix(dense, w.to_numpy(), RADIUS_M, p_facilities=p, name="bench")
    t_build = time.perf_counter() - t
    solver = (
        pulp.HiGHS(msg=False, timeLimit=time_limit_s)
        if hasattr(pulp, "HiGHS")
        else pulp.HiGHS_CMD(msg=False, timeLimit=time_limit_s)
    )
    model = model.solve(solver)
    secs = time.perf_counter() - t
    x = np.array([v.value() or 0.0 for v in model.fac_vars]) > 0.5
    covered = (cm.within(RADIUS_M) @ x.astype(np.int32)) > 0
    return {
        "seconds": secs,
        "build_s": t_build,
        "objective": float(w.to_numpy()[covered].sum()),
        "pulp_status": pulp.LpStatus[model.problem.status],
        "load_before": la,
        "load_after": load(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1k,3k,10k", help="comma list of " + ",".join(SIZES))
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument(
        "--spopt", action="store_true", help="also run spopt MCLP (benchmark-only dependency)"
    )
    ap.add_argument(
        "--highs-alone", action="store_true", help="also run HiGHS without reduction / warm start"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--random",
        action="store_true",
        help="unstructured random coverage instead of the road graph",
    )
    ap.add_argument("--out", default=None, help="JSON output path")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import highspy  # noqa: F401  (import once before timing anything)
    import pyomo.contrib.appsi.solvers  # noqa: F401
    import pyomo.environ  # noqa: F401

    t = time.perf_counter()
    graph = road_like_graph(GRAPH_NODES, seed=args.seed)
    print(
        f"graph {GRAPH_NODES} nodes in {time.perf_counter() - t:.1f} s; cores {os.cpu_count()}, load {load()}"
    )
    results = {}
    for name in args.sizes.split(","):
        n_d, n_s = SIZES[name]
        p = n_s // 10
        t = time.perf_counter()
        if args.random:
            cm, w = make_random_instance(n_d, n_s, seed=args.seed)
        else:
            cm, w = make_instance(n_d, n_s, seed=args.seed, graph=graph)
        res: dict = {"n_demand": n_d, "n_sites": n_s, "p": p, "nnz": int(cm.values.nnz)}
        print(
            f"\n## {name}: {n_d} x {n_s}, p={p}, nnz={cm.values.nnz} (instance {time.perf_counter() - t:.1f} s)"
        )
        res["overhead_full"] = modelling_overhead(cm, w, p, reduce=False)
        res["overhead_reduced"] = modelling_overhead(cm, w, p, reduce=True)
        print(f"overhead full model   : {json.dumps(res['overhead_full'])}")
        print(f"overhead reduced model: {json.dumps(res['overhead_reduced'])}")
        for label, gap in (("gap1pct", 1e-2), ("gap0.1pct", 1e-3), ("gap0.01pct", 1e-4)):
            res[label] = run_gzcharge(
                cm,
                w,
                p,
                gap=gap,
                time_limit_s=args.time_limit,
                lp_bound=True if gap == 1e-2 else None,
            )
            print(
                f"gzcharge {label:10s}: {json.dumps({k: v for k, v in res[label].items() if k != 'sizes'})}"
            )
        if args.highs_alone:
            res["highs_alone"] = run_gzcharge(
                cm,
                w,
                p,
                gap=1e-4,
                time_limit_s=args.time_limit,
                lp_bound=False,
                reduce=False,
                warm_start=False,
            )
            print(
                f"HiGHS alone          : {json.dumps({k: v for k, v in res['highs_alone'].items() if k != 'sizes'})}"
            )
        if args.spopt and n_d <= 10_000:
            res["spopt"] = run_spopt(cm, w, p, time_limit_s=args.time_limit)
            print(f"spopt                : {json.dumps(res['spopt'])}")
        results[name] = res

    print(
        "\n| size | nnz | overhead full (build+transl.) s | reduced rows×sites | to 1% s (gap) | to 0.1% s (gap) | "
        "to 0.01% s (status) | objective | LP bound | heuristic | HiGHS alone s (gap) | spopt s (obj) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        of = r["overhead_full"]
        g1, g2, g3 = r["gap1pct"], r["gap0.1pct"], r["gap0.01pct"]
        ha = r.get("highs_alone")
        spo = r.get("spopt")
        ha_s = f"{ha['seconds']:.1f} ({100 * ha['gap']:.2f}%)" if ha else "-"
        spo_s = f"{spo['seconds']:.1f} ({spo['objective']:.0f})" if spo else "-"
        print(
            f"| {name} | {r['nnz']} | {of['build_s']:.2f}+{of['translate_s']:.2f} | "
            f"{g1['sizes']['rows']}×{g1['sizes']['sites']} | {g1['seconds']:.2f} ({g1['gap']:.2%}) | "
            f"{g2['seconds']:.2f} ({g2['gap']:.3%}) | {g3['seconds']:.2f} ({g3['status']}) | {g3['objective']:.0f} | "
            f"{g1['lp_bound']:.0f} | {g1['heuristic']:.0f} | "
            f"{ha_s} | {spo_s} |"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
