r"""p-median and capacitated facility location.

Two formulations, chosen by ``capacity``:

**Uncapacitated p-median, "radius" (chained) formulation** (Elloumi 2010; Cornuéjols,
Nemhauser & Wolsey 1980). For every demand point :math:`i` with weight :math:`w_i` let
:math:`D_i^1 < D_i^2 < \dots < D_i^{K_i}` be the distinct costs from :math:`i` to the sites
it can reach, and :math:`L_i^k = \{j : c_{ij} = D_i^k\}` the sites at the :math:`k`-th level.
With :math:`y_j \in \{0,1\}` (site open) and :math:`z_i^k \ge 0` (":math:`i` is served at a
cost of at least :math:`D_i^{k+1}`"):

.. math::

    \min\; \sum_i w_i D_i^1 + \sum_i \sum_{k<K_i} w_i (D_i^{k+1} - D_i^k)\, z_i^k
    + \sum_j f_j y_j

    z_i^1 + \sum_{j \in L_i^1} y_j \ge 1                              \quad (k = 1)

    z_i^k - z_i^{k-1} + \sum_{j \in L_i^k} y_j \ge 0                  \quad (1 < k < K_i)

    -z_i^{K_i-1} + \sum_{j \in L_i^{K_i}} y_j \ge 0                   \quad (k = K_i)

    \sum_j y_j = p, \qquad y_j = 1 \;(j \text{ existing})

The chain telescopes to Elloumi's :math:`z_i^k + \sum_{j: c_{ij} \le D_i^k} y_j \ge 1`
with the same LP bound, but every (demand, site) pair appears in exactly one row, so the
model has as many nonzeros as the cost matrix has stored entries (plus two per level)
instead of a quadratic number. The last level :math:`K_i` is truncated where an open site is
guaranteed: at the level of the nearest existing site, and -- with a fixed ``p`` -- at the
level holding the :math:`(m-p+1)`-th nearest of all :math:`m` sites. Ties in cost collapse
into one level (road distances in integer metres tie often), which shrinks the model further.

**Capacitated (single- or multi-sourcing) location**, used when ``capacity`` is given,
with :math:`x_{ij}` for every stored pair:

.. math::

    \min\; \sum_{ij} w_i c_{ij} x_{ij} + \sum_j f_j y_j
    \quad\text{s.t.}\quad \sum_j x_{ij} = 1,\; x_{ij} \le y_j,\;
    \sum_i w_i x_{ij} \le Q_j y_j,\; \sum_j y_j = p

with :math:`x_{ij} \in \{0, 1\}` (``single_source=True``, the default: every demand point is
served by one site, as a township's drivers would be told "your station is X") or
:math:`0 \le x_{ij} \le 1` (``single_source=False``: demand may be split between sites).

**Iterated radius** (Garcia, Labbé & Marín 2011). Most levels of the radius formulation are
never used: a demand point is served by one of its nearest sites. The model is first built
with each demand's levels cut at a radius :math:`r_i` -- the cost of its site in a greedy +
swap heuristic solution -- keeping the variable :math:`z_i^{k}` of the last kept level (so
the cut model charges at least :math:`D_i^{k+1}` beyond the radius, a relaxation whose
optimum is a lower bound). If in its optimum every demand's nearest open site lies within
its radius, the relaxation's value is the true cost and the solution is optimal for the full
model; otherwise the radius of the demand points served beyond it grows to the level of their
nearest open site and the model is solved again. The last iteration's proven bound is a
valid lower bound of the full problem.

In both forms ``p`` counts all open sites, existing ones included; ``p=None`` with
``site_cost`` gives the uncapacitated/capacitated facility-location problem (the number of
sites is chosen by the trade-off between fixed costs :math:`f_j` and weighted travel cost).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gzcharge._util import import_pyomo, preview_ids
from gzcharge.distances import CostMatrix
from gzcharge.errors import DataError, InfeasibleError, SolverError
from gzcharge.locate._common import LocateResult, Status
from gzcharge.locate._prepare import (
    prepare_cost,
    prepare_existing,
    prepare_p,
    prepare_site_values,
    prepare_weights,
)

logger = logging.getLogger(__name__)

__all__ = ["p_median"]

_DENSE_HEURISTIC_MAX = 6_000_000  # n*m up to which the greedy+swap start runs on a dense copy


# --------------------------------------------------------------------------- public API
def p_median(
    cost: CostMatrix | pd.DataFrame,
    weights: pd.Series | Mapping | np.ndarray | list,
    p: int | None,
    *,
    existing: Iterable[Any] | None = None,
    capacity: pd.Series | Mapping | None = None,
    single_source: bool = True,
    site_cost: pd.Series | Mapping | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 1e-6,
    threads: int | None = None,
    enforce_wall_clock: bool = True,
    iterate_radius: bool = True,
    log: bool = False,
) -> LocateResult:
    """Minimise total weighted cost with every demand point served by an open site.

    Parameters
    ----------
    cost
        Demand × site costs: a :class:`~gzcharge.distances.CostMatrix` or a DataFrame
        (index = demand ids, columns = site ids; ``inf``/NaN = unreachable).
    weights
        Demand weight per demand id (Series/mapping indexed by id, or an array in row order);
        finite and ``>= 0``.
    p
        Number of open sites, existing ones included. ``None`` only with ``site_cost``
        (facility location: the model chooses how many).
    existing
        Site ids forced open.
    capacity
        Site id -> capacity in weight units (``inf`` = uncapacitated). Switches to the
        capacitated formulation; every site needs a value.
    single_source
        Capacitated model only: every demand point goes to exactly one site (default), or
        its weight may be split between sites (``False``).
    site_cost
        Site id -> fixed cost of opening (same unit as weight × cost), added to the
        objective; existing sites' costs are included.
    time_limit_s
        Total solver time limit (all radius iterations together).
    mip_rel_gap
        Relative MIP gap; the default 1e-6 makes results exact for practical purposes.
    threads, enforce_wall_clock, log
        Passed to :func:`gzcharge.solve.solve`.
    iterate_radius
        Use the iterated-radius scheme (module docstring); ``False`` builds the full radius
        model at once (for comparison).

    Returns
    -------
    LocateResult
        ``selected`` open site ids; ``objective`` = weighted cost + fixed costs recomputed
        from the solution; ``bound`` a proven lower bound; ``assignment`` demand id -> site
        id (the nearest open site in the uncapacitated model); ``details`` has
        ``mean_cost`` (travel cost per unit of weight), ``travel_cost``, ``fixed_cost``,
        ``total_weight``, ``iterations``, model size, timings and, for split demand,
        ``shares`` (long table demand, site, share).

    Raises
    ------
    DataError
        Mismatched ids, bad weights/capacities/costs, ``p`` out of range.
    InfeasibleError
        Demand points that no site can reach, or capacity too small for the demand.
    """
    t0 = time.perf_counter()
    cm = prepare_cost(cost)
    n, m = cm.shape
    w = prepare_weights(weights, cm.rows, default=None)
    exist = prepare_existing(existing, cm.cols)
    fixed = prepare_site_values(site_cost, cm.cols, name="site_cost", default=None) if site_cost is not None else None
    cap = _capacities(capacity, cm.cols) if capacity is not None else None
    if p is None:
        if fixed is None:
            raise DataError("p is required unless site_cost is given (facility-location mode chooses the number of sites)")
    else:
        p = prepare_p(p, m, int(exist.sum()))
        if p == 0:
            raise DataError("p must be at least 1: every demand point needs an open site")

    reach = np.diff(cm.values.indptr)
    if (reach == 0).any():
        bad = cm.rows[reach == 0]
        raise InfeasibleError(
            f"{len(bad)} demand points have no reachable site: {preview_ids(bad)}; "
            "raise the distance cutoff or add candidate sites near them",
            unserved=list(bad),
        )
    if cap is not None:
        _check_capacity(cm, w, cap, p, exist, single_source)

    d = _MedianData(cm=cm, w=w, p=p, existing=np.flatnonzero(exist), fixed=fixed, cap=cap, single_source=single_source)
    opts = {
        "mip_rel_gap": mip_rel_gap,
        "threads": threads,
        "enforce_wall_clock": bool(enforce_wall_clock and time_limit_s is not None),
        "log": log,
    }
    if cap is None:
        y, bound, status, details = _solve_radius(d, t0, time_limit_s, opts, iterate_radius)
        assign_pos, shares = _nearest_open(cm, y), None
    else:
        y, bound, status, details, assign_pos, shares = _solve_capacitated(d, time_limit_s, opts)

    travel = _travel_cost(cm, w, assign_pos, shares)
    fixed_total = float(fixed[y].sum()) if fixed is not None else 0.0
    objective = travel + fixed_total
    bound = min(bound, objective) if np.isfinite(bound) else bound
    gap = abs(objective - bound) / max(abs(objective), 1e-9) if np.isfinite(bound) else float("inf")
    if status is Status.OPTIMAL and gap <= mip_rel_gap:
        gap = max(gap, 0.0)
    total_w = float(w.sum())
    details.update(
        {
            "mean_cost": travel / total_w if total_w > 0 else 0.0,
            "travel_cost": travel,
            "fixed_cost": fixed_total,
            "total_weight": total_w,
            "new_sites": cm.cols[y & ~exist].tolist(),
        }
    )
    if shares is not None:
        details["shares"] = shares
    return LocateResult(
        selected=cm.cols[y].tolist(),
        objective=float(objective),
        bound=float(bound),
        gap=float(gap),
        status=status,
        seconds=time.perf_counter() - t0,
        assignment=pd.Series(cm.cols[assign_pos].to_numpy(), index=cm.rows, name="site"),
        details=details,
    )


# --------------------------------------------------------------------------- input checks
def _capacities(capacity: Any, cols: pd.Index) -> np.ndarray:
    """Capacity per site in weight units; ``inf`` allowed (uncapacitated site)."""
    ser = pd.Series(capacity, dtype=float) if isinstance(capacity, Mapping) else capacity
    if isinstance(ser, pd.Series):
        ser = pd.to_numeric(ser, errors="coerce")
        inf = np.isinf(ser.to_numpy(dtype=float, na_value=np.nan))
        finite = prepare_site_values(ser.where(~inf, 0.0), cols, name="capacity", default=None)
        return np.where(np.isinf(ser.reindex(cols).to_numpy(dtype=float)), np.inf, finite)
    arr = np.asarray(capacity, dtype=float).ravel()
    inf = np.isinf(arr) & (arr > 0)
    finite = prepare_site_values(np.where(inf, 0.0, arr), cols, name="capacity", default=None)
    return np.where(inf, np.inf, finite)


def _check_capacity(cm: CostMatrix, w: np.ndarray, cap: np.ndarray, p: int | None, exist: np.ndarray, single: bool) -> None:
    """Pre-solve checks that name the demand or say how much capacity is missing."""
    total = float(w.sum())
    if p is not None:
        others = np.sort(cap[~exist])[::-1][: p - int(exist.sum())]
        best = float(cap[exist].sum() + others.sum())
    else:
        best = float(cap.sum())
    if best < total * (1 - 1e-12):
        raise InfeasibleError(
            f"the capacity of the {p if p is not None else 'all'} largest sites ({best:g}) is below the total demand "
            f"weight ({total:g}); raise p or the capacities"
        )
    if single:
        v = cm.values
        row = np.repeat(np.arange(cm.shape[0]), np.diff(v.indptr))
        fits = np.zeros(cm.shape[0], dtype=bool)
        np.logical_or.at(fits, row, cap[v.indices] >= w[row])
        if not fits.all():
            bad = cm.rows[~fits]
            raise InfeasibleError(
                f"demand points {preview_ids(bad)} weigh more than the capacity of every site that reaches them; "
                "allow split service (single_source=False) or raise capacities",
                unserved=list(bad),
            )


# --------------------------------------------------------------------------- solve loops
def _solve_radius(d: _MedianData, t0: float, time_limit_s: float | None, opts: dict, iterate: bool) -> tuple:
    """Iterated-radius solve; returns (open mask, bound, status, details)."""
    from gzcharge.solve import solve

    _levels(d)
    n = d.cm.shape[0]
    start = _heuristic_start(d)
    lvl_last_of_row = np.flatnonzero(d.lvl_is_last)  # one per row, in row order
    if start is not None and iterate:
        rlim = np.maximum(_level_of_cost(d, _nearest_cost(d.cm, start)), d.row_first_level)
        rlim = np.minimum(rlim, lvl_last_of_row)
    else:
        rlim = lvl_last_of_row.copy()
    details: dict[str, Any] = {"formulation": "radius", "iterations": 0, "build_s": 0.0, "solve_s": 0.0,
                               "levels_total": int(d.n_levels)}
    best_y, best_cost = None, None  # best plan serving every row, and its cost
    if start is not None:
        cost_start = _true_cost(d, start)
        details["heuristic_objective"] = cost_start
        # the greedy start ignores zero-weight rows: it may leave one unserved (no plan, no warm start)
        if cost_start is not None:
            best_y, best_cost = start, cost_start
    bound, status = -np.inf, Status.TIME_LIMIT_FEASIBLE
    while True:
        details["iterations"] += 1
        remaining = None if time_limit_s is None else max(time_limit_s - (time.perf_counter() - t0), 1.0)
        d.keep_lvl = np.arange(d.n_levels) <= rlim[d.lvl_row]
        t = time.perf_counter()
        model = _build(d, [_define_sites, _define_levels, _define_level_chain, _define_site_count, _define_radius_objective])
        details["build_s"] += time.perf_counter() - t
        warm = _warm_start(model, d, best_y) if best_y is not None else None
        res = solve(model, time_limit_s=remaining, warm_start=warm, load_solution=False, **opts)
        details["solve_s"] += res.seconds
        details["n_levels_kept"] = int(d.keep_lvl.sum())
        details["n_constraints"] = model.nconstraints()
        y = res.values(model.y) > 0.5
        cost_y = _true_cost(d, y)
        if _improves(cost_y, best_cost):
            best_y, best_cost = y, cost_y
        # every iteration's model relaxes the full one: its proven bound stays valid
        bound = max(bound, float(res.bound)) if np.isfinite(res.bound) else bound
        status = res.status
        served = _level_of_cost(d, _nearest_cost(d.cm, y))
        beyond = served > rlim
        details.setdefault("rows_extended", []).append(int(beyond.sum()))
        details.setdefault("iteration_log", []).append(
            {"levels": int(d.keep_lvl.sum()), "solve_s": round(res.seconds, 3), "bound": float(res.bound),
             "objective": cost_y}
        )
        if not beyond.any() or status is not Status.OPTIMAL:
            break
        if time_limit_s is not None and time.perf_counter() - t0 >= time_limit_s:
            break
        rlim = np.where(beyond, served, rlim)
    if best_y is None:
        raise SolverError(
            f"p-median: no plan serving every demand point found in {details['iterations']} radius iteration(s) "
            f"(solver status {status.value}); raise time_limit_s"
        )
    if status is Status.OPTIMAL and best_cost - bound > opts["mip_rel_gap"] * max(abs(best_cost), 1e-9) + 1e-9:
        status = Status.TIME_LIMIT_FEASIBLE  # stopped early (time) with a relaxation bound only
    details["rows"] = n
    return best_y, float(bound), status, details


def _solve_capacitated(d: _MedianData, time_limit_s: float | None, opts: dict) -> tuple:
    from gzcharge.solve import solve

    t = time.perf_counter()
    model = _build(d, [
        _define_sites,
        _define_assignment,
        _define_assign_once,
        _define_assign_open_only,
        _define_capacity,
        _define_site_count,
        _define_assignment_objective,
    ])
    build_s = time.perf_counter() - t
    res = solve(model, time_limit_s=time_limit_s, load_solution=False, **opts)
    y = res.values(model.y) > 0.5
    x = np.asarray(res.values(model.x), dtype=float)
    assign, shares = _read_assignment(x, d)
    details = {
        "formulation": "capacitated-single" if d.single_source else "capacitated-split",
        "build_s": build_s,
        "solve_s": res.seconds,
        "n_constraints": model.nconstraints(),
        "n_vars": model.nvariables(),
    }
    return y, float(res.bound), res.status, details, assign, shares


# --------------------------------------------------------------------------- heuristic start
def _heuristic_start(d: _MedianData) -> np.ndarray | None:
    """Greedy add + 1-swap improvement on a dense copy (small enough instances, fixed p only)."""
    n, m = d.cm.shape
    if d.p is None or n * m > _DENSE_HEURISTIC_MAX:
        return None
    big = float(d.val.max() if len(d.val) else 1.0) * 10 + 1.0
    dense = np.full((n, m), big)
    dense[d.row, d.col] = d.val
    w = d.w
    open_ = np.zeros(m, dtype=bool)
    open_[d.existing] = True
    cur = dense[:, open_].min(axis=1) if open_.any() else np.full(n, big * 10)
    for _ in range(d.p - int(open_.sum())):
        gain = w @ np.minimum(cur[:, None], dense)
        gain[open_] = np.inf
        j = int(np.argmin(gain))
        open_[j] = True
        cur = np.minimum(cur, dense[:, j])
    # best-improvement swaps per leaving site (Teitz & Bart), a few passes
    for _ in range(5):
        improved = False
        for r in np.flatnonzero(open_ & ~np.isin(np.arange(m), d.existing)).tolist():
            others = open_.copy()
            others[r] = False
            base = dense[:, others].min(axis=1) if others.any() else np.full(n, big * 10)
            cand = w @ np.minimum(base[:, None], dense)
            cand[open_] = np.inf
            j = int(np.argmin(cand))
            if cand[j] < float(w @ cur) - 1e-9 * max(1.0, float(w @ cur)):
                open_[r], open_[j] = False, True
                cur = np.minimum(base, dense[:, j])
                improved = True
        if not improved:
            break
    return open_


def _nearest_cost(cm: CostMatrix, open_mask: np.ndarray) -> np.ndarray:
    """Cost to the nearest open site per row (inf when none reachable)."""
    v = cm.values
    row = np.repeat(np.arange(cm.shape[0]), np.diff(v.indptr))
    ok = open_mask[v.indices]
    out = np.full(cm.shape[0], np.inf)
    np.minimum.at(out, row[ok], v.data[ok])
    return out


def _true_cost(d: _MedianData, y: np.ndarray) -> float | None:
    """Weighted cost of serving every row from its nearest open site; None when a row has none.

    Feasibility is an explicit None, never an ``inf`` cost: a zero-weight row that no open site
    reaches makes the plan infeasible whatever its weight, and ``inf`` in a comparison
    (``inf < inf − tol·inf`` is NaN-false) would silently keep such a plan over a feasible one.
    """
    c = _nearest_cost(d.cm, y)
    if not np.all(np.isfinite(c)):
        return None
    return float(d.w @ c) + (float(d.fixed[y].sum()) if d.fixed is not None else 0.0)


def _improves(cost: float | None, best: float | None) -> bool:
    """``cost`` is a feasible plan strictly better than ``best`` (None = infeasible / no plan yet)."""
    if cost is None:
        return False
    if best is None:
        return True
    return cost < best - 1e-9 * max(1.0, abs(best))


def _level_of_cost(d: _MedianData, c: np.ndarray) -> np.ndarray:
    """Global index of the level holding cost ``c[i]`` in row ``i`` (clipped to the row's levels)."""
    le = np.bincount(d.lvl_row, weights=(d.lvl_cost <= c[d.lvl_row]), minlength=len(c)).astype(np.int64)
    lvl = d.row_first_level + le - 1
    return np.clip(lvl, d.row_first_level, np.flatnonzero(d.lvl_is_last))


def _warm_start(model: Any, d: _MedianData, y: np.ndarray) -> dict:
    """Start vector: the sites of ``y`` and the level variables they imply."""
    lvl_open = np.bincount(d.ent_level, weights=y[d.ent_col].astype(float), minlength=d.n_levels)
    cum = np.cumsum(lvl_open)
    before_row = np.r_[0.0, cum][d.row_first_level]  # open count before each row's first level
    s_k = cum - before_row[d.lvl_row]
    z = np.maximum(0.0, 1.0 - s_k)
    zl = d.z_idx_levels
    return {model.y: y.astype(float), model.z: z[zl]}


# --------------------------------------------------------------------------- model data
class _MedianData:
    """Arrays the ``_define_*`` steps read (positions; ids stay on ``cm``)."""

    def __init__(self, *, cm: CostMatrix, w: np.ndarray, p: int | None, existing: np.ndarray,
                 fixed: np.ndarray | None, cap: np.ndarray | None, single_source: bool) -> None:
        self.cm, self.w, self.p, self.existing = cm, w, p, existing
        self.fixed, self.cap, self.single_source = fixed, cap, single_source
        v = cm.values
        self.row = np.repeat(np.arange(cm.shape[0]), np.diff(v.indptr))
        self.col = v.indices.astype(np.int64)
        self.val = v.data.astype(float)


def _levels(d: _MedianData) -> None:
    """Distinct cost levels per demand row, truncated where an open site is guaranteed.

    Sets on ``d``: ``ent_col``/``ent_level`` (entries sorted by row and cost, with their
    global level), and per level ``lvl_row``, ``lvl_cost``, ``lvl_is_first``, ``lvl_is_last``;
    ``row_first_level`` per row.
    """
    n, m = d.cm.shape
    order = np.lexsort((d.val, d.row))
    row, col, val = d.row[order], d.col[order], d.val[order]
    new_row = np.r_[True, row[1:] != row[:-1]]
    first = new_row | np.r_[True, val[1:] != val[:-1]]
    level = np.cumsum(first) - 1
    pos = np.arange(len(row))
    rank = pos - np.maximum.accumulate(np.where(new_row, pos, 0))
    big = np.iinfo(np.int64).max
    keep_level = np.full(n, big)
    if d.p is not None:
        hit = rank == (m - d.p)  # the (m-p+1)-th nearest site: one of them is open
        keep_level[row[hit]] = level[hit]
    if len(d.existing):
        is_ex = np.isin(col, d.existing)
        ex_lvl = np.full(n, big)
        np.minimum.at(ex_lvl, row[is_ex], level[is_ex])
        keep_level = np.minimum(keep_level, ex_lvl)
    keep = level <= keep_level[row]
    row, col, val, level, first = row[keep], col[keep], val[keep], level[keep], first[keep]
    level = np.cumsum(first) - 1  # renumber (whole levels were kept)
    d.ent_col, d.ent_level = col, level
    d.lvl_row, d.lvl_cost = row[first], val[first]
    d.lvl_is_first = np.r_[True, d.lvl_row[1:] != d.lvl_row[:-1]]
    d.lvl_is_last = np.r_[d.lvl_row[1:] != d.lvl_row[:-1], True]
    d.n_levels = len(d.lvl_row)
    d.row_first_level = np.flatnonzero(d.lvl_is_first)


def _build(data: _MedianData, steps: list) -> Any:
    pyo = import_pyomo()  # not `import pyomo.environ`: see gzcharge._util.import_pyomo

    model = pyo.ConcreteModel(name="p_median")
    for step in steps:
        step(model, data)
    return model


def _define_sites(model: Any, d: _MedianData) -> None:
    """Binary open/closed variable per site; existing sites fixed open."""
    import pyomo.environ as pyo

    m = d.cm.shape[1]
    model.y = pyo.Var(range(m), domain=pyo.Binary)
    for j in d.existing.tolist():
        model.y[j].fix(1)


def _define_site_count(model: Any, d: _MedianData) -> None:
    """Exactly p open sites (no constraint in facility-location mode)."""
    import pyomo.environ as pyo

    if d.p is not None:
        model.site_count = pyo.Constraint(expr=sum(model.y.values()) == d.p)


def _define_levels(model: Any, d: _MedianData) -> None:
    """Level variable z for every kept level that is not its row's last (guaranteed) level."""
    import pyomo.environ as pyo

    zl = np.flatnonzero(d.keep_lvl & ~d.lvl_is_last)
    d.z_idx_levels = zl
    model.z = pyo.Var(range(len(zl)), bounds=(0, 1))
    d.z_of_level = np.full(d.n_levels, -1)
    d.z_of_level[zl] = np.arange(len(zl))


def _define_level_chain(model: Any, d: _MedianData) -> None:
    """One chained covering row per kept level: z_k - z_{k-1} + Σ_{j at level k} y_j >= [k first]."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    kept = np.flatnonzero(d.keep_lvl)
    counts = np.bincount(d.ent_level, minlength=d.n_levels)
    starts = np.r_[0, np.cumsum(counts)]
    ys = list(model.y.values())
    y_of_ent = [ys[j] for j in d.ent_col.tolist()]
    zs = list(model.z.values())
    zo = d.z_of_level
    prev = np.r_[-1, zo[:-1]]
    prev[d.lvl_is_first] = -1
    spec = list(zip(kept.tolist(), starts[kept].tolist(), starts[kept + 1].tolist(), zo[kept].tolist(),
                    prev[kept].tolist(), d.lvl_is_first[kept].tolist(), strict=True))

    def rule(_m: Any, r: int) -> Any:
        _, a, b, zk, zp, is_first = spec[r]
        lv = y_of_ent[a:b]
        co = [1.0] * (b - a)
        if zk >= 0:
            lv = [*lv, zs[zk]]
            co.append(1.0)
        if zp >= 0:
            lv = [*lv, zs[zp]]
            co.append(-1.0)
        return (1.0 if is_first else 0.0, LinearExpression(constant=0, linear_coefs=co, linear_vars=lv), None)

    model.level_chain = pyo.Constraint(range(len(spec)), rule=rule)


def _define_radius_objective(model: Any, d: _MedianData) -> None:
    """Weighted cost: each row's nearest level plus the level increments it pays."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    f = d.lvl_is_first
    base = float(np.sum(d.w[d.lvl_row[f]] * d.lvl_cost[f]))
    zl = d.z_idx_levels
    coefs = (d.w[d.lvl_row[zl]] * (d.lvl_cost[zl + 1] - d.lvl_cost[zl])).tolist()
    vars_ = list(model.z.values())
    if d.fixed is not None:
        coefs += d.fixed.tolist()
        vars_ += list(model.y.values())
    model.obj = pyo.Objective(expr=LinearExpression(constant=base, linear_coefs=coefs, linear_vars=vars_), sense=pyo.minimize)


def _define_assignment(model: Any, d: _MedianData) -> None:
    """Assignment variable per reachable (demand, site) pair (binary when single-sourced)."""
    import pyomo.environ as pyo

    model.x = pyo.Var(range(len(d.row)), domain=pyo.Binary if d.single_source else pyo.UnitInterval)


def _define_assign_once(model: Any, d: _MedianData) -> None:
    """Every demand point is fully served: Σ_j x_ij = 1."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    xs = list(model.x.values())
    ip = d.cm.values.indptr.tolist()
    model.assign_once = pyo.Constraint(
        range(d.cm.shape[0]),
        rule=lambda _m, i: (1.0, LinearExpression(constant=0, linear_coefs=[1.0] * (ip[i + 1] - ip[i]),
                                                  linear_vars=xs[ip[i]:ip[i + 1]]), 1.0),
    )


def _define_assign_open_only(model: Any, d: _MedianData) -> None:
    """Strong linking x_ij <= y_j (tightens the LP relaxation)."""
    import pyomo.environ as pyo

    xs = list(model.x.values())
    ys = list(model.y.values())
    col = d.col.tolist()
    model.assign_open = pyo.Constraint(range(len(col)), rule=lambda _m, e: xs[e] - ys[col[e]] <= 0)


def _define_capacity(model: Any, d: _MedianData) -> None:
    """Served weight within capacity when open: Σ_i w_i x_ij <= Q_j y_j (finite Q_j only)."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    m = d.cm.shape[1]
    ent = np.arange(len(d.row))
    order = np.lexsort((d.row, d.col))
    starts = np.r_[0, np.cumsum(np.bincount(d.col, minlength=m))].tolist()
    el = ent[order].tolist()
    wl = d.w[d.row[order]].tolist()
    xs = list(model.x.values())
    ys = list(model.y.values())
    capped = [j for j in range(m) if np.isfinite(d.cap[j])]

    def rule(_m: Any, j: int) -> Any:
        a, b = starts[j], starts[j + 1]
        lv = [xs[e] for e in el[a:b]] + [ys[j]]
        co = wl[a:b] + [-float(d.cap[j])]
        return (None, LinearExpression(constant=0, linear_coefs=co, linear_vars=lv), 0.0)

    model.capacity = pyo.Constraint(capped, rule=rule)


def _define_assignment_objective(model: Any, d: _MedianData) -> None:
    """Weighted assignment cost plus fixed site costs."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    coefs = (d.w[d.row] * d.val).tolist()
    vars_ = list(model.x.values())
    if d.fixed is not None:
        coefs += d.fixed.tolist()
        vars_ += list(model.y.values())
    model.obj = pyo.Objective(expr=LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=vars_), sense=pyo.minimize)


# --------------------------------------------------------------------------- solution
def _nearest_open(cm: CostMatrix, open_mask: np.ndarray) -> np.ndarray:
    """Position of the cheapest open site per demand row (ties: lowest column)."""
    v = cm.values
    row = np.repeat(np.arange(cm.shape[0]), np.diff(v.indptr))
    ok = open_mask[v.indices]
    r, c, val = row[ok], v.indices[ok], v.data[ok]
    order = np.lexsort((c, val, r))
    r, c = r[order], c[order]
    firsts = np.r_[True, r[1:] != r[:-1]] if len(r) else np.zeros(0, dtype=bool)
    out = np.full(cm.shape[0], -1, dtype=np.int64)
    out[r[firsts]] = c[firsts]
    if (out < 0).any():
        bad = cm.rows[out < 0]
        raise InfeasibleError(f"demand points {preview_ids(bad)} reach no open site", unserved=list(bad))
    return out


def _read_assignment(x: np.ndarray, d: _MedianData) -> tuple[np.ndarray, pd.DataFrame | None]:
    """Serving site per row (largest share) and, for split service, the share table."""
    if d.single_source:
        x = (x > 0.5).astype(float)
    order = np.lexsort((-x, d.row))
    r, c = d.row[order], d.col[order]
    firsts = np.r_[True, r[1:] != r[:-1]]
    assign = np.full(d.cm.shape[0], -1, dtype=np.int64)
    assign[r[firsts]] = c[firsts]
    if d.single_source:
        return assign, None
    nz = x > 1e-9
    shares = pd.DataFrame(
        {"demand": d.cm.rows[d.row[nz]].to_numpy(), "site": d.cm.cols[d.col[nz]].to_numpy(), "share": x[nz]}
    )
    return assign, shares


def _travel_cost(cm: CostMatrix, w: np.ndarray, assign: np.ndarray, shares: pd.DataFrame | None) -> float:
    """Weighted travel cost of an assignment (or of split shares)."""
    if shares is None:
        c = np.asarray(cm.values[np.arange(cm.shape[0]), assign]).ravel()
        return float(np.sum(w * c))
    ri = cm.rows.get_indexer(shares["demand"])
    ci = cm.cols.get_indexer(shares["site"])
    c = np.asarray(cm.values[ri, ci]).ravel()
    return float(np.sum(w[ri] * c * shares["share"].to_numpy()))
