"""OR-Library p-median benchmark: how far up pmed1..pmed40 HiGHS proves optimality.

Usage::

    python benchmarks/bench_pmedian.py [--first 1] [--last 40] [--time-limit 60] [--method auto|benders|radius]
        [--full-model]

Reads ``../shared/data/reference/orlib_pmed`` (repeated edges: the last line wins), builds the
shortest-path distance matrix, runs :func:`gzcharge.locate.p_median` with the time limit per
instance and prints one Markdown table row per instance (objective, published optimum,
status, gap, wall and CPU seconds; Benders: LP rounds, branch-and-cut nodes, cuts; radius:
iterations, levels kept of total) and the 1-minute load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from gzcharge.distances import CostMatrix
from gzcharge.locate.median import p_median

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reference" / "orlib_pmed"


def load(k: int) -> tuple[np.ndarray, int]:
    """Distance matrix and p of pmed{k}."""
    lines = (DATA / f"pmed{k}.txt").read_text().split("\n")
    n, m, p = map(int, lines[0].split())
    edges: dict[tuple[int, int], int] = {}
    for ln in lines[1 : 1 + m]:
        i, j, c = map(int, ln.split())
        edges[(min(i, j), max(i, j))] = c
    ij = np.array(list(edges)) - 1
    g = sp.coo_array((np.array(list(edges.values()), float), (ij[:, 0], ij[:, 1])), shape=(n, n)).tocsr()
    return shortest_path(g, directed=False), p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--last", type=int, default=40)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--full-model", action="store_true", help="no radius iteration (whole radius model at once)")
    ap.add_argument("--method", default="auto", choices=["auto", "benders", "radius"])
    args = ap.parse_args()
    opt = {
        a: int(b)
        for a, b in (ln.split() for ln in (DATA / "pmedopt.txt").read_text().split("\n")[1:] if ln.strip())
    }
    import os

    print("| instance | n | p | objective | optimum | status | gap % | seconds | CPU s | "
          "rounds, nodes / iterations | cuts / levels kept | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for k in range(args.first, args.last + 1):
        d, p = load(k)
        cm = CostMatrix.from_dataframe(pd.DataFrame(d))
        t, cpu = time.perf_counter(), time.process_time()
        r = p_median(cm, np.ones(len(d)), p, time_limit_s=args.time_limit, iterate_radius=not args.full_model,
                     method=args.method)
        secs, cpu = time.perf_counter() - t, time.process_time() - cpu
        dd = r.details
        if dd["formulation"] == "benders":
            it = f"LP {dd['lp_rounds']}, {dd['nodes']} nodes"
            size = f"{dd['cuts']} cuts"
        else:
            it = str(dd["iterations"])
            size = f"{dd['n_levels_kept']}/{dd['levels_total']}"
        print(
            f"| pmed{k} | {len(d)} | {p} | {r.objective:.0f} | {opt[f'pmed{k}']} | {r.status.value} | "
            f"{100 * r.gap:.3f} | {secs:.1f} | {cpu:.1f} | {it} | {size} | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
