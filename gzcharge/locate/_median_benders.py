r"""Uncapacitated p-median on a dense cost matrix: a vectorised swap heuristic and a Benders solve.

Both work on a dense ``n × m`` matrix ``C`` (unreachable pairs carry a large finite cost),
so :func:`gzcharge.locate.median.p_median` uses them only for small enough instances.

**Swap heuristic** (:func:`swap_improve`): best-improvement 1-swaps in the way of FastPAM1
(Schubert & Rousseeuw 2019/2021): with every demand's nearest (``d1``) and second-nearest
(``d2``) open cost, the change of the weighted cost for "close ``i``, open ``c``" is
``A[c] + B[i, c] + f_c - f_i`` with ``A[c] = Σ_o w_o (min(C_oc, d1_o) - d1_o)`` and
``B[i, c] = Σ_{o: nearest(o) = i} w_o (min(C_oc, d2_o) - min(C_oc, d1_o))``, so every swap
is priced in one ``O(n m)`` pass instead of ``O(p n m)``. Our own implementation (the PyPI
``kmedoids`` package is GPL-3.0, this project is MIT).

**Benders decomposition** (Durán-Mateluna, Alès & Elloumi 2023, "An efficient Benders
decomposition for the p-median problem", EJOR 308). With ``θ_i`` the cost of demand ``i``,
the master problem is

.. math::

    \min \sum_i w_i θ_i + \sum_j f_j y_j \quad\text{s.t.}\quad \sum_j y_j = p,\;
    θ_i \ge D - \sum_{j: C_{ij} < D} (D - C_{ij})\, y_j \;\; (\text{cuts}),\; y \in \{0,1\}

where a cut exists for every demand ``i`` and every distinct cost ``D`` of its row. For
given (fractional) ``y`` the most violated cut of row ``i`` is at the ``D`` where the
cumulative ``y`` of its sites, in order of cost, first reaches 1 (closed form, no LP). For
integer ``y`` that cut is tight: ``θ_i`` = the cost of the nearest open site. The LP with all
cuts equals the LP bound of the radius formulation (:mod:`gzcharge.locate.median`).

1. The LP relaxation by cutting planes, separating at an in-out point (Ben-Ameur & Neto
   2007) between the LP optimum and a core point, then at the LP optimum itself; the LP's
   ``p`` largest sites, swap-improved, may lower the heuristic's cost ``UB``.
2. Branch and cut on ``y`` (the paper's branch-and-Benders-cut; HiGHS has no lazy-constraint
   callback in Python, and re-solving the master MIP with more cuts restarts its tree each
   time): best bound first, every node's LP re-solved from the last basis with the shared cut
   pool, separated until no cut is violated; a node is pruned when its LP bound reaches
   ``UB`` (``UB - 1`` with integer costs and weights: a better plan is at least 1 cheaper);
   per node, reduced-cost fixing closes (opens) the sites whose reduced cost lifts the bound
   to that cutoff; branching on the most fractional ``y``. A node whose LP ``y`` is integer
   with no violated cut is a plan at its LP cost.

The smallest LP bound of the open nodes is a lower bound when the deadline stops the tree.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)

_VIOL_TOL = 1e-7  # relative violation for a cut to be added


def _nearest_two(c_open: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: position of the nearest open column, its cost and the second-nearest cost."""
    if c_open.shape[1] == 1:
        return np.zeros(len(c_open), np.int64), c_open[:, 0].copy(), np.full(len(c_open), np.inf)
    part = np.argpartition(c_open, 1, axis=1)[:, :2]
    v = np.take_along_axis(c_open, part, axis=1)
    swap = v[:, 1] < v[:, 0]
    first = np.where(swap, part[:, 1], part[:, 0])
    d1 = np.minimum(v[:, 0], v[:, 1])
    d2 = np.maximum(v[:, 0], v[:, 1])
    return first, d1, d2


def swap_improve(
    C: np.ndarray,
    w: np.ndarray,
    open_mask: np.ndarray,
    *,
    fixed_open: np.ndarray | None = None,
    site_cost: np.ndarray | None = None,
    max_swaps: int = 10_000,
    time_limit_s: float = 10.0,
) -> np.ndarray:
    """Best-improvement 1-swaps (FastPAM1 pricing) from ``open_mask``; returns the improved mask.

    ``fixed_open`` columns (existing sites) never close; ``site_cost`` adds ``f_c - f_i``.
    """
    t0 = time.perf_counter()
    n, m = C.shape
    x = open_mask.copy()
    keep = np.zeros(m, bool) if fixed_open is None else fixed_open
    f = np.zeros(m) if site_cost is None else np.asarray(site_cost, float)
    for _ in range(max_swaps):
        if time.perf_counter() - t0 > time_limit_s:
            break
        idx = np.flatnonzero(x)
        if len(idx) == m:
            break
        pos, d1, d2 = _nearest_two(C[:, idx])
        m1 = np.minimum(C, d1[:, None])
        a = w @ (m1 - d1[:, None])
        e = w[:, None] * (np.minimum(C, d2[:, None]) - m1)
        s = sp.csr_array((np.ones(n), (pos, np.arange(n))), shape=(len(idx), n))
        b = s @ e  # (|open|, m)
        delta = a[None, :] + b + f[None, :] - f[idx][:, None]
        delta[:, x] = np.inf
        delta[keep[idx], :] = np.inf
        k = int(np.argmin(delta))
        i, c = divmod(k, m)
        cur = float(w @ d1) + float(f[idx].sum())
        if not delta[i, c] < -1e-9 * max(1.0, abs(cur)):
            break
        x[idx[i]] = False
        x[c] = True
    return x


def greedy_start(
    C: np.ndarray, w: np.ndarray, p: int, fixed_open: np.ndarray, site_cost: np.ndarray | None
) -> np.ndarray:
    """Greedy add (largest cost decrease incl. fixed cost) to ``p`` open columns."""
    n, m = C.shape
    f = np.zeros(m) if site_cost is None else np.asarray(site_cost, float)
    x = fixed_open.copy()
    cur = C[:, x].min(axis=1) if x.any() else np.full(n, 10.0 * float(C.max()) + 1.0)
    for _ in range(p - int(x.sum())):
        total = w @ np.minimum(cur[:, None], C) + f
        total[x] = np.inf
        j = int(np.argmin(total))
        x[j] = True
        cur = np.minimum(cur, C[:, j])
    return x


class _Separator:
    """Closed-form Benders cuts of the p-median master (rows sorted by cost once)."""

    def __init__(self, C: np.ndarray) -> None:
        self.C = C
        self.order = np.argsort(C, axis=1, kind="stable")
        self.Cs = np.take_along_axis(C, self.order, axis=1)

    def level(self, y: np.ndarray) -> np.ndarray:
        """Per row, the cost ``D`` at which the cumulative ``y`` (by cost) first reaches 1."""
        cum = np.cumsum(y[self.order], axis=1)
        k = np.minimum((cum < 1.0 - 1e-9).sum(axis=1), self.C.shape[1] - 1)
        return self.Cs[np.arange(len(k)), k]

    def cuts(self, rows: np.ndarray, D: np.ndarray) -> sp.csr_array:
        """Coefficients ``max(D - C_ij, 0)`` of the cuts of ``rows`` at levels ``D``."""
        coef = np.maximum(D[:, None] - self.C[rows], 0.0)
        return sp.csr_array(coef)

    def value(self, rows: np.ndarray, D: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Right-hand side ``D - Σ max(D - C, 0) y`` of those cuts at ``y``."""
        return D - np.maximum(D[:, None] - self.C[rows], 0.0) @ y


def solve_benders(
    C: np.ndarray,
    w: np.ndarray,
    p: int,
    *,
    fixed_open: np.ndarray,
    site_cost: np.ndarray | None,
    start: np.ndarray,
    true_cost: Any,
    deadline: Any,
    mip_rel_gap: float,
    threads: int | None = None,
) -> tuple[np.ndarray, float, bool, dict]:
    """Benders solve (module docstring); returns ``(open mask, bound, proven, details)``.

    ``true_cost(mask)`` is the caller's cost of a plan (``None`` when infeasible); ``start``
    a feasible plan (its cost is the first upper bound).
    """
    import heapq

    import highspy

    t0 = time.perf_counter()
    n, m = C.shape
    f = np.zeros(m) if site_cost is None else np.asarray(site_cost, float)
    sep = _Separator(C)
    best_y, ub = start.copy(), float(true_cost(start))
    details: dict[str, Any] = {"formulation": "benders", "lp_rounds": 0, "nodes": 0}
    # integer costs and weights: a better plan costs at least 1 less
    integral = all(np.array_equal(a, np.round(a)) for a in (C, w, f))

    def cutoff() -> float:
        """A node whose LP bound reaches this holds no plan better than ``ub`` (by the gap)."""
        if integral:
            return ub - 1.0 + 1e-6 * max(1.0, abs(ub))
        return ub - mip_rel_gap * max(abs(ub), 1e-9)

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    lo_y = fixed_open.astype(float)
    h.addVars(m + n, np.r_[lo_y, sep.Cs[:, 0]], np.r_[np.ones(m), np.full(n, np.inf)])
    h.changeColsCost(m + n, np.arange(m + n, dtype=np.int32), np.r_[f, w].astype(float))
    h.addRow(float(p), float(p), m, np.arange(m, dtype=np.int32), np.ones(m))
    n_cuts = 0

    def add_cuts(rows: np.ndarray, D: np.ndarray) -> None:
        nonlocal n_cuts
        if not len(rows):
            return
        a = sp.hstack([sep.cuts(rows, D), sp.csr_array((np.ones(len(rows)), (np.arange(len(rows)), rows)),
                                                       shape=(len(rows), n))], format="csr")
        h.addRows(len(rows), D.astype(float), np.full(len(rows), np.inf), a.nnz, a.indptr.astype(np.int32),
                  a.indices.astype(np.int32), a.data.astype(float))
        n_cuts += len(rows)

    def violated(y: np.ndarray, th: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        D = sep.level(at)
        rows = np.arange(n)
        v = sep.value(rows, D, y)
        bad = v - th > _VIOL_TOL * np.maximum(1.0, np.abs(th))
        return rows[bad], D[bad]

    hard_end = None if deadline.end is None else deadline.end + 0.5

    def on_interrupt(e: Any) -> None:
        if hard_end is not None and time.perf_counter() > hard_end:
            e.interrupt()

    for cb in (h.cbSimplexInterrupt, h.cbIpmInterrupt):
        cb.subscribe(on_interrupt)

    def run() -> Any:
        left = deadline.left()
        h.setOptionValue("time_limit", float(left) + h.getRunTime() if left is not None else np.inf)
        h.run()
        return h.getModelStatus()

    add_cuts(np.arange(n), sep.level(best_y.astype(float)))  # tight at the start
    core = 0.5 * best_y + 0.5 * (p / m)
    lb = -np.inf
    # 1. LP by cutting planes, in-out separation
    while not deadline.expired:
        if run() != highspy.HighsModelStatus.kOptimal:
            break
        details["lp_rounds"] += 1
        xv = np.asarray(h.getSolution().col_value)
        y, th = xv[:m], xv[m:]
        lb = max(lb, float(h.getInfo().objective_function_value))
        rows, D = violated(y, th, 0.5 * y + 0.5 * core)
        if not len(rows):
            rows, D = violated(y, th, y)
        core = 0.5 * (core + y)
        if not len(rows):
            break
        add_cuts(rows, D)
    lp_done = details["lp_rounds"] > 0 and h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    details["lp_bound"] = lb
    details["lp_s"] = time.perf_counter() - t0

    def polish(mask: np.ndarray) -> None:
        """Swap-improve a plan; keep it when it beats the best (a lower UB fixes more sites)."""
        nonlocal best_y, ub
        cand = swap_improve(C, w, mask, fixed_open=fixed_open, site_cost=site_cost, time_limit_s=2.0)
        cost = true_cost(cand)
        if cost is not None and cost < ub - 1e-9 * max(1.0, abs(ub)):
            best_y, ub = cand, float(cost)

    def rounded(y: np.ndarray) -> np.ndarray:
        """The existing sites and the LP's largest others, ``p`` in all."""
        top = fixed_open.copy()
        free = np.flatnonzero(~fixed_open)
        top[free[np.argsort(-y[free], kind="stable")[: p - int(fixed_open.sum())]]] = True
        return top

    if not lp_done:
        details.update(cuts=n_cuts, solve_s=time.perf_counter() - t0)
        return best_y, lb, False, details
    if lb >= cutoff():
        details["cuts"] = n_cuts
        return best_y, ub, True, details
    polish(rounded(np.asarray(h.getSolution().col_value)[:m]))
    details["ub_after_lp"] = ub
    # drop the cuts without a dual (separation brings back those a node needs)
    row_dual = np.asarray(h.getSolution().row_dual)[1:]
    drop = np.flatnonzero(np.abs(row_dual) < 1e-12).astype(np.int32) + 1
    if len(drop):
        h.deleteRows(len(drop), drop)
        n_cuts -= len(drop)
    h.setBasis()  # the deleted rows leave no valid basis behind

    # 2. branch and cut on y: the LP with the cut pool at every node, reduced-cost fixing per node
    all_y = np.arange(m, dtype=np.int32)

    def node_lp(lo: np.ndarray, hi: np.ndarray) -> tuple[str, float, np.ndarray | None, np.ndarray | None]:
        """``(outcome, bound, y, reduced costs)`` of a node: 'pruned', 'infeasible', 'stopped' or 'open'."""
        h.changeColsBounds(m, all_y, lo, hi)
        while True:
            st = run()
            if st == highspy.HighsModelStatus.kInfeasible:
                return "infeasible", np.inf, None, None
            if st != highspy.HighsModelStatus.kOptimal:
                return "stopped", -np.inf, None, None
            obj = float(h.getInfo().objective_function_value)
            if obj >= cutoff():
                return "pruned", obj, None, None
            sol = h.getSolution()
            xv = np.asarray(sol.col_value)
            rows, D = violated(xv[:m], xv[m:], xv[:m])
            if not len(rows):
                return "open", obj, xv[:m], np.asarray(sol.col_dual)[:m]
            add_cuts(rows, D)

    root_lo, root_hi = lo_y.copy(), np.ones(m)
    heap: list = [(lb, 0, 0, root_lo, root_hi)]  # (parent bound, -depth, tie, lo, hi), best bound first
    tie = 1
    stopped_at = None
    while heap:
        if deadline.expired:
            break
        key, negdepth, _, lo, hi = heapq.heappop(heap)
        if key >= cutoff():
            continue
        out, obj, y, rc = node_lp(lo, hi)
        details["nodes"] += 1
        if out == "stopped":
            stopped_at = key
            break
        if out != "open":
            continue
        frac = np.abs(y - np.round(y))
        if frac.max() <= 1e-6:  # integer y and no violated cut: θ is the plan's cost
            yy = y > 0.5
            cost = true_cost(yy)
            if cost is not None and cost < ub - 1e-9 * max(1.0, abs(ub)):
                best_y, ub = yy, float(cost)
            continue
        if -negdepth <= 3 or details["nodes"] % 20 == 0:
            polish(rounded(y))
        # reduced-cost fixing for the subtree
        cut = cutoff()
        lo, hi = lo.copy(), hi.copy()
        hi[(lo < 0.5) & (y < 1e-9) & (obj + rc >= cut)] = 0.0
        lo[(hi > 0.5) & (y > 1 - 1e-9) & (obj - rc >= cut)] = 1.0
        j = int(np.argmax(np.where((lo < hi), frac, -1.0)))
        for v in (1.0, 0.0):
            clo, chi = lo.copy(), hi.copy()
            clo[j] = chi[j] = v
            if clo.sum() <= p <= chi.sum():
                heapq.heappush(heap, (obj, negdepth - 1, tie, clo, chi))
                tie += 1
    open_keys = [k for k, *_ in heap] + ([stopped_at] if stopped_at is not None else [])
    proven = not open_keys or min(open_keys) >= cutoff()
    bound = ub if proven else max(lb, min(min(open_keys), ub))
    details.update(cuts=n_cuts, open_nodes=len(heap), solve_s=time.perf_counter() - t0)
    gap_ok = ub - bound <= mip_rel_gap * max(abs(ub), 1e-9)
    return best_y, bound, proven or gap_ok, details

