"""Solver limits and modelling overhead: gzcharge coverage solves side by side with plain HiGHS.

Instances: the road-like coverage instances of :mod:`benchmarks.bench_locate` (10k × 2k,
50k × 5k; ``--radius`` scales the pairs, e.g. 50k × 5k at 6.2 km ≈ 2 M pairs). Demand
that no site covers is dropped so that full set cover is feasible.

Per instance and model (set cover: every point covered, unit costs; max cover: p = sites/10):

* ``gzcharge`` -- :func:`gzcharge.locate.set_cover` / :func:`~gzcharge.locate.max_cover`,
  end to end (reduction, heuristic, LP bound, phases) with ``time_limit_s``;
* ``highs`` -- HiGHS alone: the plain formulation built with highspy from the CSR matrix
  (``passModel``), no reduction, no start, HiGHS's own ``time_limit``;

wall seconds, objective, bound, status, and the 1-minute load average before/after (the
machine is shared). The modelling overhead of the reduced model gzcharge solves is measured
both ways: Pyomo twin (``ArrayModel.to_pyomo`` + appsi translation) and arrays
(``_arrays`` + ``passModel``).

    python benchmarks/bench_solver.py --sizes 10k --time-limit 60
    python benchmarks/bench_solver.py --sizes 50k --radius 6200 --time-limit 60
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import bench_locate  # noqa: E402
from benchmarks.roadlike import road_like_graph  # noqa: E402
from gzcharge.distances import CostMatrix  # noqa: E402

#: relative MIP gap both sides are asked for (``--gap``)
GAP = 1e-4


def load() -> str:
    """1-minute load average (other jobs share this machine)."""
    return f"{os.getloadavg()[0]:.2f}"


def coverable(cm: CostMatrix, w: pd.Series, radius: float) -> tuple[CostMatrix, pd.Series]:
    """Drop demand rows no site covers (full set cover must be feasible)."""
    keep = np.diff(sp.csr_array(cm.within(radius)).indptr) > 0
    vals = sp.csr_array(cm.values)[np.flatnonzero(keep)]
    sub = CostMatrix(cm.rows[keep], cm.cols, vals, unit=cm.unit, mode=cm.mode, cutoff=cm.cutoff)
    return sub, w[keep]


def highs_direct(a: sp.csr_array, w: np.ndarray, kind: str, p: int, time_limit_s: float, gap: float = GAP) -> dict:
    """Plain formulation straight from CSR in highspy (no reduction, no start)."""
    import highspy

    from gzcharge.solve import ArrayModel

    t = time.perf_counter()
    n, m = a.shape
    a = sp.csr_array(a, dtype=np.float64)
    if kind == "set_cover":
        am = ArrayModel(c=np.ones(m), a=a, row_lower=np.ones(n), row_upper=np.full(n, np.inf),
                        lower=np.zeros(m), upper=np.ones(m), integer=np.ones(m, bool),
                        blocks={"x": (0, m)})
    else:
        big = sp.vstack([sp.hstack([-a, sp.eye_array(n)]),
                         sp.csr_array(np.r_[np.ones(m), np.zeros(n)][None, :])], format="csr")
        am = ArrayModel(c=np.r_[np.zeros(m), w], a=big, row_lower=np.full(n + 1, -np.inf),
                        row_upper=np.r_[np.zeros(n), p], lower=np.zeros(m + n), upper=np.ones(m + n),
                        integer=np.r_[np.ones(m, bool), np.zeros(n, bool)],
                        blocks={"x": (0, m), "y": (m, n)}, sense="max")
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(am.to_highs_lp())
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", gap)
    build = time.perf_counter() - t
    h.run()
    info = h.getInfo()
    return {"seconds": time.perf_counter() - t, "build_s": build, "objective": info.objective_function_value,
            "bound": info.mip_dual_bound, "status": str(h.getModelStatus())}


def gz(cm: CostMatrix, w: pd.Series, kind: str, p: int, radius: float, time_limit_s: float,
       gap: float = GAP) -> dict:
    from gzcharge.locate import max_cover, set_cover

    t = time.perf_counter()
    if kind == "set_cover":
        r = set_cover(cm, radius, time_limit_s=time_limit_s, mip_rel_gap=gap)
    else:
        r = max_cover(cm, radius, w, p=p, time_limit_s=time_limit_s, mip_rel_gap=gap)
    return {"seconds": time.perf_counter() - t, "objective": r.objective, "bound": r.bound,
            "gap": r.gap, "status": r.status.value, "timings": r.details["timings"],
            "phases": r.details.get("solve", {}).get("phases")}


def overhead(cm: CostMatrix, w: pd.Series, p: int, radius: float) -> dict:
    """Reduced max-cover model: Pyomo twin + appsi translation vs arrays + passModel."""
    import highspy

    from gzcharge.locate import coverage as cov
    from gzcharge.solve import PersistentSolver

    d = cov._prepare_data(cm, radius, w, None, None, weights_required=False)
    n = d.cover.shape[0]
    inst = cov._reduce_instance(d, keep_zero_weight=np.zeros(n, bool), must=np.zeros(n, bool),
                                group=np.full(n, -1), n_groups=0, reduce=True)
    t = time.perf_counter()
    am = cov._arrays(cov._MAX_COVER_STEPS, inst, {"p": p})
    t_arr = time.perf_counter() - t
    t = time.perf_counter()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(am.to_highs_lp())
    t_pass = time.perf_counter() - t
    t = time.perf_counter()
    twin = am.to_pyomo()
    t_pyo = time.perf_counter() - t
    t = time.perf_counter()
    PersistentSolver(twin)
    t_tr = time.perf_counter() - t
    return {"rows": inst.shape[0], "sites": inst.shape[1], "nnz": int(inst.a.nnz), "arrays_s": t_arr,
            "passModel_s": t_pass, "pyomo_build_s": t_pyo, "appsi_translate_s": t_tr}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10k")
    ap.add_argument("--radius", type=float, default=bench_locate.RADIUS_M)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--kinds", default="set_cover,max_cover")
    ap.add_argument("--who", default="highs,gzcharge", help="which solvers to run (comma list)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gap", type=float, default=GAP, help="mip_rel_gap for both (default 1e-4)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    bench_locate.RADIUS_M = args.radius
    graph = road_like_graph(bench_locate.GRAPH_NODES, seed=args.seed)
    out = {}
    for size in args.sizes.split(","):
        n_d, n_s = bench_locate.SIZES[size]
        p = n_s // 10
        cm, w = bench_locate.make_instance(n_d, n_s, seed=args.seed, graph=graph)
        cm, w = coverable(cm, w, args.radius)
        res: dict = {"demand": len(w), "sites": n_s, "pairs": int(cm.values.nnz), "p": p, "radius": args.radius}
        print(f"\n## {size}: {len(w)} x {n_s}, {cm.values.nnz:,} pairs, radius {args.radius:g} m, load {load()}")
        res["overhead"] = overhead(cm, w, p, args.radius)
        print("overhead", json.dumps(res["overhead"]))
        a = sp.csr_array(cm.within(args.radius))
        for kind in args.kinds.split(","):
            for who in args.who.split(","):
                la = load()
                if who == "highs":
                    r = highs_direct(a, w.to_numpy(float), kind, p, args.time_limit, args.gap)
                else:
                    r = gz(cm, w, kind, p, args.radius, args.time_limit, args.gap)
                r["load"] = f"{la}->{load()}"
                res[f"{kind}/{who}"] = r
                print(f"{kind:9s} {who:8s}", json.dumps(r, default=str))
        out[size] = res
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
