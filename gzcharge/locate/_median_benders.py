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
   2007) between the LP optimum and a core point, then at the LP optimum itself.
2. Reduced-cost fixing with the LP duals and the heuristic's cost ``UB``: a site whose
   reduced cost lifts the bound above ``UB`` cannot be in a better plan; cuts without a dual
   are dropped.
3. The master MIP, re-solved with the tight cuts of its solution added, until its solution
   has no violated cut (it is then optimal for the full problem) or the deadline.

Every master solve is a relaxation of the full problem: its proven bound is a bound.
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
    import highspy

    t0 = time.perf_counter()
    n, m = C.shape
    f = np.zeros(m) if site_cost is None else np.asarray(site_cost, float)
    sep = _Separator(C)
    best_y, ub = start.copy(), float(true_cost(start))
    details: dict[str, Any] = {"formulation": "benders", "lp_rounds": 0, "mip_rounds": 0}

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

    def run(limit: float | None) -> None:
        h.setOptionValue("time_limit", float(limit) + h.getRunTime() if limit is not None else np.inf)
        h.run()

    add_cuts(np.arange(n), sep.level(best_y.astype(float)))  # tight at the start
    core = 0.5 * best_y + 0.5 * (p / m)
    lb = -np.inf
    # 1. LP by cutting planes
    while True:
        left = deadline.left()
        if left is not None and left <= 0:
            break
        run(left)
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break
        details["lp_rounds"] += 1
        sol = h.getSolution()
        xv = np.asarray(sol.col_value)
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
    if lp_done and ub - lb <= mip_rel_gap * max(abs(ub), 1e-9):
        details["cuts"] = n_cuts
        return best_y, lb, True, details
    def polish(mask: np.ndarray) -> None:
        """Swap-improve a plan; keep it when it beats the best (a lower UB fixes more sites)."""
        nonlocal best_y, ub
        cand = swap_improve(C, w, mask, fixed_open=fixed_open, site_cost=site_cost, time_limit_s=2.0)
        cost = true_cost(cand)
        if cost is not None and cost < ub - 1e-9 * max(1.0, abs(ub)):
            best_y, ub = cand, float(cost)

    # 2. reduced-cost fixing and dropping cuts without a dual
    if lp_done:
        y_lp = np.asarray(h.getSolution().col_value)[:m]
        top = fixed_open.copy()
        free = np.flatnonzero(~fixed_open)
        top[free[np.argsort(-y_lp[free], kind="stable")[: p - int(fixed_open.sum())]]] = True
        polish(top)  # the LP's p largest sites, swap-improved
        details["ub_after_lp"] = ub
        sol = h.getSolution()
        rc = np.asarray(sol.col_dual)[:m]
        y = np.asarray(sol.col_value)[:m]
        tol = 1e-9 * max(1.0, abs(ub))
        zero = (y < 1e-9) & (lb + rc > ub + tol) & ~fixed_open
        one = (y > 1 - 1e-9) & (lb - rc > ub + tol)
        idx = np.flatnonzero(zero | one).astype(np.int32)
        if len(idx):
            v = one[idx].astype(float)
            h.changeColsBounds(len(idx), idx, v, v)
        details["fixed_closed"], details["fixed_open"] = int(zero.sum()), int(one.sum())
        row_dual = np.asarray(sol.row_dual)[1:]
        drop = np.flatnonzero(np.abs(row_dual) < 1e-12).astype(np.int32) + 1
        if len(drop):
            h.deleteRows(len(drop), drop)
            n_cuts -= len(drop)
    # 3. master MIP rounds
    h.changeColsIntegrality(m, np.arange(m, dtype=np.int32), np.full(m, highspy.HighsVarType.kInteger))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    hard_end = None if deadline.end is None else deadline.end + 0.5

    def on_interrupt(e: Any) -> None:
        if hard_end is not None and time.perf_counter() > hard_end:
            e.interrupt()

    found: list[np.ndarray] = []

    def on_improving(e: Any) -> None:  # every improving master plan of a round gets its cuts
        found.append(np.array(e.data_out.mip_solution, dtype=float))

    for cb in (h.cbSimplexInterrupt, h.cbMipInterrupt, h.cbIpmInterrupt):
        cb.subscribe(on_interrupt)
    h.cbMipImprovingSolution.subscribe(on_improving)
    proven = False
    presolve_off = False
    mip_bound = -np.inf
    while True:
        left = deadline.left()
        if left is not None and left <= 0.05:
            break
        th_start = C[:, best_y].min(axis=1)
        s = highspy.HighsSolution()
        s.col_value = np.r_[best_y.astype(float), th_start]
        s.value_valid = True
        h.setSolution(s)
        found.clear()
        run(left)
        details["mip_rounds"] += 1
        sol = h.getSolution()
        if sol.value_valid and not presolve_off:
            xv = np.asarray(sol.col_value)
            got = float(f @ xv[:m] + w @ xv[m:])
            rep = float(h.getInfo().objective_function_value)
            if abs(got - rep) > 1e-6 * max(1.0, abs(got)):
                # HiGHS 1.16 with a MIP start and presolve has reported a wrong "optimal" objective and
                # bound (FIELD-NOTES; seen here on pmed11: 7694 for a solution worth 7696): presolve off
                logger.info("benders: HiGHS reported %.10g for a solution worth %.10g; presolve off", rep, got)
                h.setOptionValue("presolve", "off")
                presolve_off = True
                continue
        st = h.getModelStatus()
        info = h.getInfo()
        if np.isfinite(info.mip_dual_bound):
            mip_bound = max(mip_bound, float(info.mip_dual_bound))
        sol = h.getSolution()
        if not sol.value_valid:
            break
        xv = np.asarray(sol.col_value)
        y = xv[:m] > 0.5
        cost = true_cost(y)
        if cost is not None and cost < ub - 1e-9 * max(1.0, abs(ub)):
            best_y, ub = y, float(cost)
        if int(y.sum()) == p:
            polish(y)
        rows, D = violated(y.astype(float), xv[m:], y.astype(float))
        logger.debug("benders MIP round %d: %s, bound %.10g, master %.10g, plan %s, %d violated cuts",
                     details["mip_rounds"], st, info.mip_dual_bound, info.objective_function_value, cost, len(rows))
        if st != highspy.HighsModelStatus.kOptimal:
            break
        if not len(rows):
            proven = ub - mip_bound <= mip_rel_gap * max(abs(ub), 1e-9) + 1e-9
            break
        # tight cuts of the round's other improving plans too (fewer rounds)
        seen = {tuple(np.flatnonzero(y))}
        for xs in found[:-1][-5:]:
            yk = xs[:m] > 0.5
            key = tuple(np.flatnonzero(yk))
            if key in seen or int(yk.sum()) != p:
                continue
            seen.add(key)
            rk, dk = violated(yk.astype(float), xs[m:], yk.astype(float))
            rows, D = np.r_[rows, rk], np.r_[D, dk]
        add_cuts(rows, D)
    details.update(cuts=n_cuts, mip_bound=mip_bound, solve_s=time.perf_counter() - t0)
    bound = max(lb, mip_bound)
    return best_y, bound, proven or ub - bound <= mip_rel_gap * max(abs(ub), 1e-9), details
