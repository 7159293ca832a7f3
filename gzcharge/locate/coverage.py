r"""Coverage models: location set covering (LSCP, partial/group set cover) and max cover (MCLP).

Notation
--------
``I`` demand points with weights ``w_i >= 0``; ``J`` candidate sites with costs ``c_j >= 0``
(1 when ``site_cost`` is not given); ``N_i = {j : d_ij <= r_i}`` the sites covering ``i``
(``r_i`` a scalar or per-demand radius); ``E ⊆ J`` existing sites (forced open);
``x_j ∈ {0,1}`` open site; ``0 <= y_i <= 1`` demand covered (continuous: with integral
``x`` an optimal/feasible ``y_i`` is ``min(1, Σ_{N_i} x_j)``, so integrality is implied);
``W = Σ_i w_i``.

Set cover (:func:`set_cover`)::

    min   Σ_j c_j x_j
    s.t.  Σ_{j∈N_i} x_j >= 1                       ∀ i             (min_coverage = 1: every point)
    or    y_i <= Σ_{j∈N_i} x_j                     ∀ i             (partial cover)
          Σ_i w_i y_i >= α W                                      (α = min_coverage < 1)
          Σ_{i∈I_g} w_i y_i >= s_g Σ_{i∈I_g} w_i    ∀ groups g     (group_min_coverage)
          x_j = 1                                  ∀ j ∈ E

Max cover (:func:`max_cover`)::

    max   Σ_i w_i y_i
    s.t.  y_i <= Σ_{j∈N_i} x_j                     ∀ i
          Σ_{j∈N_i} x_j >= 1                       ∀ i ∈ M         (must_cover; y_i = 1)
          Σ_j x_j <= p                                            (when p is given)
          Σ_j c_j x_j <= B                                        (when budget is given)
          x_j = 1                                  ∀ j ∈ E

``p`` is an upper limit (the model may open fewer sites when more add nothing) and counts
existing sites; the budget also pays for existing sites.

Before the solver runs, the instance is reduced exactly (:mod:`gzcharge.locate._reduce`):
existing sites are fixed open and the demand they cover becomes a constant, demand no
candidate covers is set aside (it cannot change the decision; under a full-coverage target
it is reported by id through :class:`~gzcharge.errors.InfeasibleError` before solving),
zero-weight demand is dropped where it cannot matter, demand rows with identical covering
sets are merged (weights summed) and dominated sites are dropped. A greedy (+ 1-swap local
search for max cover) solution is passed to HiGHS as a MIP start. The reported objective,
``covered`` and ``assignment`` are recomputed on the original cost matrix from the
selected sites.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gzcharge._util import import_pyomo, preview_ids
from gzcharge.distances import CostMatrix
from gzcharge.errors import DataError, InfeasibleError
from gzcharge.locate import _heuristics, _prepare, _reduce
from gzcharge.locate._common import LocateResult, Status

logger = logging.getLogger(__name__)

__all__ = ["set_cover", "max_cover", "max_cover_sweep"]

#: ``lp_bound=None`` solves the LP relaxation first when the reduced model has more nonzeros
_AUTO_LP_BOUND_NNZ = 200_000


# ---------------------------------------------------------------------------- instance
@dataclass
class _Instance:
    """A reduced coverage instance in positions (rows = merged demand, cols = kept sites)."""

    a: sp.csr_array  # bool, K × J'
    w: np.ndarray  # K
    cost: np.ndarray  # J'
    must: np.ndarray  # K bool (hard-covered rows)
    group: np.ndarray  # K group code or -1
    site_pos: np.ndarray  # J' -> original column position
    const_weight: float = 0.0  # weight covered by existing sites
    const_cost: float = 0.0  # cost of existing sites
    group_const: np.ndarray = field(
        default_factory=lambda: np.zeros(0)
    )  # per-group weight covered by existing
    sizes: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.a.shape


@dataclass
class _Data:
    """Validated user input in positions of the original cost matrix."""

    cm: CostMatrix
    radius: np.ndarray
    cover: sp.csr_array
    w: np.ndarray
    cost: np.ndarray
    existing: np.ndarray


def _prepare_data(
    cost: Any, radius: Any, weights: Any, site_cost: Any, existing: Any, *, weights_required: bool
) -> _Data:
    cm = _prepare.prepare_cost(cost)
    r = _prepare.prepare_radius(radius, cm.rows)
    w = _prepare.prepare_weights(weights, cm.rows, default=None if weights_required else 1.0)
    c = _prepare.prepare_site_values(site_cost, cm.cols, name="site_cost", default=1.0)
    ex = _prepare.prepare_existing(existing, cm.cols)
    cover = _prepare.coverage_matrix(cm, r)
    return _Data(cm, r, cover, w, c, ex)


def _reduce_instance(
    d: _Data,
    *,
    keep_zero_weight: np.ndarray,
    must: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    reduce: bool,
) -> _Instance:
    """Fix existing sites, set aside uncoverable rows, merge rows, drop dominated sites."""
    n, m = d.cover.shape
    cover = sp.csr_array(d.cover, dtype=bool)
    by_existing = (
        (cover @ d.existing.astype(np.int32)) > 0 if d.existing.any() else np.zeros(n, dtype=bool)
    )
    cand = np.flatnonzero(~d.existing)
    sub = sp.csr_array(cover[:, cand])
    coverable = np.diff(sub.indptr) > 0
    rows = ~by_existing & coverable & ((d.w > 0) | keep_zero_weight | must)
    row_idx = np.flatnonzero(rows)
    a = sp.csr_array(sub[row_idx])
    w = d.w[row_idx]
    mu = must[row_idx]
    g = group[row_idx]
    sizes = {"rows_in": n, "sites_in": m, "nnz_in": int(cover.nnz)}
    site_pos = cand
    gconst = np.bincount(
        group[by_existing & (group >= 0)],
        weights=d.w[by_existing & (group >= 0)],
        minlength=n_groups,
    )
    if reduce and a.shape[0] and a.shape[1]:
        cls = g.astype(float) * 2 + mu
        merged = _reduce.merge_identical_rows(a, w, cls)
        a, w, mu, g = merged.cover, merged.weight, mu[merged.rep], g[merged.rep]
        dom = _reduce.dominated_sites(a, d.cost[cand])
        if dom.any():
            a = sp.csr_array(a[:, np.flatnonzero(~dom)])
            site_pos = cand[~dom]
            cls = g.astype(float) * 2 + mu
            merged = _reduce.merge_identical_rows(a, w, cls)
            a, w, mu, g = merged.cover, merged.weight, mu[merged.rep], g[merged.rep]
    sizes.update({"rows": a.shape[0], "sites": a.shape[1], "nnz": int(a.nnz)})
    return _Instance(
        a=a,
        w=w.astype(float),
        cost=d.cost[site_pos].astype(float),
        must=mu.astype(bool),
        group=g.astype(np.int64),
        site_pos=site_pos,
        const_weight=float(d.w[by_existing].sum()),
        const_cost=float(d.cost[d.existing].sum()),
        group_const=gconst,
        sizes=sizes,
    )


# ---------------------------------------------------------------------------- model steps
def _row_lists(a: sp.csr_array) -> list[np.ndarray]:
    return np.split(a.indices, a.indptr[1:-1]) if a.shape[0] else []


def _define_site_vars(m: Any, inst: _Instance, spec: dict) -> None:
    import pyomo.environ as pyo

    m.x = pyo.Var(range(inst.shape[1]), domain=pyo.Binary)


def _define_cover_vars(m: Any, inst: _Instance, spec: dict) -> None:
    import pyomo.environ as pyo

    spec["free_rows"] = np.flatnonzero(~inst.must)
    m.y = pyo.Var(spec["free_rows"].tolist(), bounds=(0, 1))


def _define_max_cover_objective(m: Any, inst: _Instance, spec: dict) -> None:
    import pyomo.environ as pyo

    const = inst.const_weight + float(inst.w[inst.must].sum())
    w = inst.w
    m.obj = pyo.Objective(
        expr=sum(w[i] * m.y[i] for i in spec["free_rows"].tolist()) + const, sense=pyo.maximize
    )


def _define_set_cover_objective(m: Any, inst: _Instance, spec: dict) -> None:
    import pyomo.environ as pyo

    c = inst.cost
    m.obj = pyo.Objective(
        expr=sum(c[j] * m.x[j] for j in range(inst.shape[1])) + inst.const_cost, sense=pyo.minimize
    )


def _define_cover_link(m: Any, inst: _Instance, spec: dict) -> None:
    """y_i <= Σ_{j∈N_i} x_j for the rows that are not hard-covered (built from CSR rows)."""
    import pyomo.environ as pyo

    lists = spec.setdefault("rows_cols", _row_lists(inst.a))
    xs = list(m.x.values())
    y = m.y
    m.cover_link = pyo.Constraint(
        spec["free_rows"].tolist(), rule=lambda _m, i: y[i] - sum(xs[j] for j in lists[i]) <= 0
    )


def _define_hard_cover(m: Any, inst: _Instance, spec: dict) -> None:
    """Σ_{j∈N_i} x_j >= 1 for hard-covered rows (all rows in full set cover)."""
    import pyomo.environ as pyo

    lists = spec.setdefault("rows_cols", _row_lists(inst.a))
    xs = list(m.x.values())
    hard = np.flatnonzero(inst.must).tolist()
    m.hard_cover = pyo.Constraint(hard, rule=lambda _m, i: sum(xs[j] for j in lists[i]) >= 1)


def _define_cardinality(m: Any, inst: _Instance, spec: dict) -> None:
    """Σ_j x_j <= p' (mutable, so a sweep re-solves with only this right-hand side changed)."""
    import pyomo.environ as pyo

    if spec.get("p") is None:
        return
    m.p_new = pyo.Param(mutable=True, initialize=spec["p"])
    m.cardinality = pyo.Constraint(expr=sum(m.x.values()) <= m.p_new)


def _define_budget(m: Any, inst: _Instance, spec: dict) -> None:
    import pyomo.environ as pyo

    if spec.get("budget") is None:
        return
    c = inst.cost
    m.budget_new = pyo.Param(mutable=True, initialize=spec["budget"])
    m.budget = pyo.Constraint(expr=sum(c[j] * m.x[j] for j in range(inst.shape[1])) <= m.budget_new)


def _define_coverage_target(m: Any, inst: _Instance, spec: dict) -> None:
    """Σ_i w_i y_i >= remaining target (partial set cover)."""
    import pyomo.environ as pyo

    if spec.get("target") is None:
        return
    w = inst.w
    m.coverage_target = pyo.Constraint(
        expr=sum(w[i] * m.y[i] for i in spec["free_rows"].tolist()) >= spec["target"]
    )


def _define_group_targets(m: Any, inst: _Instance, spec: dict) -> None:
    """Σ_{i∈I_g} w_i y_i >= remaining group target."""
    import pyomo.environ as pyo

    gt = spec.get("group_target")
    if gt is None or not len(gt):
        return
    free = spec["free_rows"]
    active = [k for k in range(len(gt)) if gt[k] > 1e-12]
    members = {k: free[inst.group[free] == k].tolist() for k in active}
    w = inst.w
    m.group_target = pyo.Constraint(
        active, rule=lambda _m, k: sum(w[i] * m.y[i] for i in members[k]) >= float(gt[k])
    )


_MAX_COVER_STEPS: list[Callable[[Any, _Instance, dict], None]] = [
    _define_site_vars,
    _define_cover_vars,
    _define_max_cover_objective,
    _define_cover_link,
    _define_hard_cover,
    _define_cardinality,
    _define_budget,
]

_SET_COVER_STEPS: list[Callable[[Any, _Instance, dict], None]] = [
    _define_site_vars,
    _define_cover_vars,
    _define_set_cover_objective,
    _define_cover_link,
    _define_hard_cover,
    _define_coverage_target,
    _define_group_targets,
]


def _build(steps: list, inst: _Instance, spec: dict) -> Any:
    pyo = import_pyomo()  # not `import pyomo.environ`: see gzcharge._util.import_pyomo

    m = pyo.ConcreteModel(name=spec.get("name", "coverage"))
    for step in steps:
        step(m, inst, spec)
    return m


# ---------------------------------------------------------------------------- results
def _nearest_open(d: _Data, open_mask: np.ndarray) -> pd.Series:
    """Nearest open site within each demand's radius (None where uncovered)."""
    n = d.cover.shape[0]
    out = np.full(n, None, dtype=object)
    idx = np.flatnonzero(open_mask)
    if len(idx):
        v = sp.csr_array(d.cm.values[:, idx])
        row_of = np.repeat(np.arange(n), np.diff(v.indptr))
        keep = v.data <= d.radius[row_of]
        r, c, dist = row_of[keep], v.indices[keep], v.data[keep]
        order = np.lexsort((c, dist, r))
        r, c = r[order], c[order]
        first = np.r_[True, r[1:] != r[:-1]] if len(r) else np.zeros(0, dtype=bool)
        out[r[first]] = np.asarray(d.cm.cols[idx[c[first]]], dtype=object)
    return pd.Series(out, index=d.cm.rows, name="site", dtype=object)


def _result(
    d: _Data,
    open_mask: np.ndarray,
    *,
    objective: float,
    bound: float,
    status: Status,
    t0: float,
    details: dict,
) -> LocateResult:
    hits = sp.csr_array(d.cover, dtype=np.int32) @ open_mask.astype(np.int32)
    covered = pd.Series(hits > 0, index=d.cm.rows, name="covered")
    gap = abs(objective - bound) / max(abs(objective), 1e-9) if np.isfinite(bound) else float("inf")
    if status == Status.OPTIMAL and gap < 1e-12:
        gap = 0.0
    details.setdefault("covered_weight", float(d.w[hits > 0].sum()))
    details.setdefault("total_weight", float(d.w.sum()))
    details["new_sites"] = d.cm.cols[open_mask & ~d.existing].tolist()
    return LocateResult(
        selected=d.cm.cols[open_mask].tolist(),
        objective=float(objective),
        bound=float(bound),
        gap=float(gap),
        status=status,
        seconds=time.perf_counter() - t0,
        assignment=_nearest_open(d, open_mask),
        covered=covered,
        details=details,
    )


@dataclass
class _Outcome:
    """Best solution over the solve phases (and the heuristic), in instance columns."""

    x: np.ndarray
    status: Status
    objective: float
    bound: float
    solver_name: str
    solver_version: str
    details: dict


def _solve_instance(
    steps: list,
    inst: _Instance,
    spec: dict,
    start: np.ndarray | None,
    solve_opts: dict,
    timings: dict,
    lp_bound: bool | None,
    *,
    value_of: Callable[[np.ndarray], float],
    maximize: bool,
    warm_mode: str,
    probe_s: float,
    lp_rounding: Callable[[np.ndarray], np.ndarray] | None = None,
    cache: dict | None = None,
) -> tuple[_Outcome, float | None]:
    """Build, translate and solve; returns the best outcome and the LP bound (if asked).

    ``warm_mode``: ``"start"`` passes the heuristic to HiGHS as a MIP start; ``"auto"`` first
    runs HiGHS without it for ``probe_s`` seconds (a MIP start has made HiGHS 1.16 much
    slower on easy, nearly integral instances) and only re-solves with the start when that
    probe does not finish; ``"none"`` never passes it. In every mode the heuristic solution
    is kept as a fallback when HiGHS stops at its limit with something worse.
    ``lp_rounding`` turns the LP relaxation's site values into a second heuristic start
    (used when it beats the first). ``cache`` (a dict) keeps the built and translated model
    across calls that differ only in ``p``/budget (a sweep).
    """
    from gzcharge.errors import SolverError
    from gzcharge.solve import PersistentSolver

    if lp_bound is None:  # auto: large models, where HiGHS's own root LP can take minutes
        lp_bound = inst.a.nnz > _AUTO_LP_BOUND_NNZ
    opts = dict(solve_opts)
    threads = opts.pop("threads", None)
    if cache is not None and "model" in cache:
        # a sweep: the translated model is reused; only the mutable right-hand sides change
        model, ps = cache["model"], cache["ps"]
        for key, val in cache["spec"].items():  # sets derived while building (free_rows, ...)
            spec.setdefault(key, val)
        if spec.get("p") is not None:
            model.p_new.set_value(spec["p"])
        if spec.get("budget") is not None:
            model.budget_new.set_value(spec["budget"])
        timings["build_s"] = timings["translate_s"] = 0.0
    else:
        t = time.perf_counter()
        model = _build(steps, inst, spec)
        timings["build_s"] = time.perf_counter() - t
        t = time.perf_counter()
        ps = PersistentSolver(model, threads=threads)
        timings["translate_s"] = time.perf_counter() - t
        if cache is not None:
            cache.update(model=model, ps=ps, spec=spec)
    lp = None
    if lp_bound:
        t = time.perf_counter()
        # interior point + crossover: far faster than dual simplex on large coverage LPs
        lp_res = ps.solve(relax_integrality=True, load_solution=False, options={"solver": "ipm"})
        lp = lp_res.objective
        x_lp = np.asarray(lp_res.values(model.x), dtype=float) if inst.shape[1] else np.zeros(0)
        timings["lp_s"] = time.perf_counter() - t
        if lp_rounding is not None and inst.shape[1]:
            t = time.perf_counter()
            cand = lp_rounding(x_lp)
            better = start is None or (
                value_of(cand) > value_of(start) if maximize else value_of(cand) < value_of(start)
            )
            if better:
                start = cand
            timings["lp_rounding_s"] = time.perf_counter() - t
    warm = None
    if start is not None:
        warm = {model.x: start.astype(float)}
        if len(model.y):
            hits = sp.csr_array(inst.a, dtype=np.int32) @ start.astype(np.int32)
            warm[model.y] = np.minimum(hits[spec["free_rows"]], 1).astype(float)
    limit = opts.pop("time_limit_s")
    if lp is not None and start is not None:
        # HiGHS for the bound: when the heuristic is already within the gap of the LP bound,
        # it is proven good enough and no branch-and-bound is needed
        h = value_of(start)
        if abs(lp - h) <= opts["mip_rel_gap"] * max(abs(h), 1e-9):
            timings["solve_s"] = 0.0
            lpd = {"phases": ["lp_bound"], "best_from": "heuristic"}
            return _Outcome(start.copy(), Status.OPTIMAL, h, lp, "highs", ps._version, lpd), lp
    t_solve = time.perf_counter()
    runs: list = []
    phases = []
    if warm is not None and warm_mode == "auto":
        phases.append(("probe", None, probe_s if limit is None else min(limit, probe_s)))
        if lp is not None and limit is not None:
            phases.append(("lp_support", warm, 0.5))  # half of the time left
        phases.append(("warm", warm, None))
    elif warm is not None and warm_mode == "start":
        phases.append(("warm", warm, limit))
    else:
        phases.append(("plain", None, limit))
    for name, ws, lim in phases:
        if limit is not None and (lim is None or name == "lp_support"):
            left = limit - (time.perf_counter() - t_solve)
            lim = left if lim is None else lim * left
            if lim <= 0.5:
                break
        if name == "lp_support":
            # sub-MIP heuristic: sites the LP leaves at 0 (and the start does not use) are
            # fixed closed; its solution is feasible for the full model, its bound is not a bound
            fix = {model.x: np.where((x_lp < 1e-6) & ~start, 0.0, np.nan)}
        else:
            fix = None
        try:
            res = ps.solve(warm_start=ws, time_limit_s=lim, load_solution=False, fix=fix, **opts)
        except SolverError as exc:  # e.g. the probe stopped without an incumbent
            if name == "warm":
                raise
            logger.info("%s solve found nothing (%s); going on", name, exc)
            continue
        runs.append((name, res))
        if res.status == Status.OPTIMAL and name != "lp_support":
            break
    timings["solve_s"] = time.perf_counter() - t_solve
    if not runs:
        raise SolverError("HiGHS found no solution within the time limit")
    best_name, best = max(runs, key=lambda r: r[1].objective if maximize else -r[1].objective)
    bounds = [r.bound for n, r in runs if n != "lp_support"] or [
        float("inf") if maximize else float("-inf")
    ]
    bound = min(bounds) if maximize else max(bounds)
    x = np.round(best.values(model.x)).astype(bool) if inst.shape[1] else np.zeros(0, dtype=bool)
    obj = best.objective
    proven = any(r.status == Status.OPTIMAL for n, r in runs if n != "lp_support")
    status = Status.OPTIMAL if proven else Status.TIME_LIMIT_FEASIBLE
    if start is not None:
        h = value_of(start)
        if (
            (h > obj + 1e-9 * max(1.0, abs(obj)))
            if maximize
            else (h < obj - 1e-9 * max(1.0, abs(obj)))
        ):
            logger.warning(
                "HiGHS stopped with %.8g; the heuristic solution %.8g is better and is used", obj, h
            )
            x, obj, best_name = start.copy(), h, "heuristic"
    if lp is not None:  # the LP relaxation's optimum is a valid bound too
        bound = min(bound, lp) if maximize else max(bound, lp)
    bound = max(bound, obj) if maximize else min(bound, obj)
    if status == Status.TIME_LIMIT_FEASIBLE and abs(bound - obj) <= opts["mip_rel_gap"] * max(
        abs(obj), 1e-9
    ):
        status = Status.OPTIMAL
    details = dict(best.details)
    details.update({"phases": [n for n, _ in runs], "best_from": best_name})
    return _Outcome(x, status, obj, bound, best.solver_name, best.solver_version, details), lp


def _warm_mode(warm_start: bool | str) -> str:
    if warm_start in (True, "auto"):
        return "auto"
    if warm_start in ("start", "none"):
        return str(warm_start)
    if warm_start is False:
        return "none"
    raise DataError(f"warm_start must be True/False, 'auto', 'start' or 'none', not {warm_start!r}")


def _solve_opts(
    time_limit_s: float | None,
    mip_rel_gap: float,
    threads: int | None,
    enforce_wall_clock: bool,
    log: bool,
) -> dict:
    return {
        "time_limit_s": time_limit_s,
        "mip_rel_gap": mip_rel_gap,
        "threads": threads,
        "enforce_wall_clock": bool(enforce_wall_clock and time_limit_s is not None),
        "log": log,
    }


# ---------------------------------------------------------------------------- public API
def set_cover(
    cost: CostMatrix | pd.DataFrame,
    radius: float | pd.Series | np.ndarray,
    *,
    weights: pd.Series | np.ndarray | None = None,
    min_coverage: float = 1.0,
    site_cost: pd.Series | np.ndarray | None = None,
    existing: Iterable[Any] | None = None,
    groups: pd.Series | Mapping[Any, Any] | None = None,
    group_min_coverage: Mapping[Any, float] | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 1e-4,
    threads: int | None = None,
    enforce_wall_clock: bool = True,
    reduce: bool = True,
    warm_start: bool | str = True,
    probe_s: float = 10.0,
    lp_bound: bool | None = None,
    log: bool = False,
) -> LocateResult:
    """Minimum-cost set of sites covering demand within ``radius`` (LSCP and partial cover).

    Parameters
    ----------
    cost
        Demand × site costs: DataFrame (index demand ids, columns site ids, inf/NaN =
        unreachable) or :class:`~gzcharge.distances.CostMatrix`.
    radius
        Coverage radius in the cost's unit: a number, or one per demand id (Series/array),
        e.g. 2 km in a city core and 10 km for townships.
    weights
        Demand weights (default 1 each); used by ``min_coverage`` < 1 and group targets.
    min_coverage
        Share of the total weight that must be covered; ``1.0`` means every demand point
        (LSCP, hard constraints).
    site_cost
        Cost per site (default 1: minimise the number of sites).
    existing
        Site ids that are open already (they count in ``objective`` and ``selected``).
    groups, group_min_coverage
        Series demand id -> group (e.g. county adcode) and mapping group -> minimum covered
        weight share of that group.
    time_limit_s, mip_rel_gap, threads, enforce_wall_clock, log
        Solver controls (see :func:`gzcharge.solve.solve`).
    reduce, lp_bound
        Exact reductions; also solve the LP relaxation first (interior point;
        ``details["lp_bound"]``). Its optimum bounds the result, and when the heuristic is
        already within ``mip_rel_gap`` of it no branch-and-bound runs at all -- worth it on
        large instances, where HiGHS's own root LP (dual simplex) can take minutes.
        ``None`` (default) = only when the reduced model has more than 200,000 nonzeros.
    warm_start, probe_s
        Greedy heuristic start: ``True``/``"auto"`` = HiGHS first runs without it for
        ``probe_s`` seconds and re-solves with it as a MIP start only if that probe does not
        finish; ``"start"`` = always pass it; ``"none"`` = compute it but never pass it;
        ``False`` = no heuristic at all. The heuristic solution is returned when HiGHS stops
        at its limit with something worse.

    Returns
    -------
    LocateResult
        ``objective`` = total cost of the open sites (existing included), ``covered`` by
        demand id, ``assignment`` = nearest open covering site, ``details`` with model sizes,
        timings, heuristic value and the new site ids.

    Raises
    ------
    DataError
        Bad input (ids, weights, radius, shares).
    InfeasibleError
        The targets cannot be met even with every candidate open; ``unserved`` names the
        demand ids no candidate covers (checked before the solver runs).
    """
    t0 = time.perf_counter()
    timings: dict = {}
    d = _prepare_data(cost, radius, weights, site_cost, existing, weights_required=False)
    try:
        alpha = float(min_coverage)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"min_coverage must be a share between 0 and 1, not {min_coverage!r}"
        ) from exc
    if not 0 <= alpha <= 1:
        raise DataError(f"min_coverage must be a share between 0 and 1, not {min_coverage!r}")
    codes, group_ids, share = _prepare.prepare_groups(groups, group_min_coverage, d.cm.rows)
    n = d.cover.shape[0]
    full = alpha >= 1.0
    if full:
        _prepare.check_coverable(d.cover, d.cm.rows, what="covering every demand point")
        must = np.ones(n, dtype=bool)
    else:
        must = np.zeros(n, dtype=bool)
        coverable = np.diff(d.cover.indptr) > 0
        W = float(d.w.sum())
        if float(d.w[coverable].sum()) < alpha * W - 1e-9 * max(1.0, W):
            ids = d.cm.rows[~coverable]
            raise InfeasibleError(
                f"min_coverage={alpha:g} is impossible: even with every candidate open only "
                f"{d.w[coverable].sum() / W:.4%} of the weight is within the radius; "
                f"{len(ids)} demand points have no candidate: {preview_ids(ids)}",
                unserved=list(ids),
            )
    gW = np.bincount(codes[codes >= 0], weights=d.w[codes >= 0], minlength=len(group_ids))
    if len(group_ids):
        coverable = np.diff(d.cover.indptr) > 0
        sel = coverable & (codes >= 0)
        gmax = np.bincount(codes[sel], weights=d.w[sel], minlength=len(group_ids))
        bad = gmax < share * gW - 1e-9 * np.maximum(1.0, gW)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            ids = d.cm.rows[(codes == k) & ~coverable]
            raise InfeasibleError(
                f"group {group_ids[k]!r} cannot reach {share[k]:.4g} coverage: at most "
                f"{gmax[k] / max(gW[k], 1e-12):.4%} of its weight is within reach of a candidate; "
                f"uncovered demand: {preview_ids(ids)}",
                unserved=list(ids),
            )
    timings["prepare_s"] = time.perf_counter() - t0

    t = time.perf_counter()
    keep_zero = np.zeros(n, dtype=bool)
    inst = _reduce_instance(
        d,
        keep_zero_weight=keep_zero,
        must=must,
        group=codes,
        n_groups=len(group_ids),
        reduce=reduce,
    )
    timings["reduce_s"] = time.perf_counter() - t
    W = float(d.w.sum())
    spec: dict = {"name": "set_cover"}
    if not full:
        spec["target"] = max(0.0, alpha * W - inst.const_weight - 1e-9 * max(1.0, W))
    if len(group_ids):
        spec["group_target"] = np.maximum(
            0.0, share * gW - inst.group_const - 1e-9 * np.maximum(1.0, gW)
        )
    details: dict = {"sizes": inst.sizes, "timings": timings}

    needs_solver = (
        inst.shape[0] > 0
        and inst.shape[1] > 0
        and (
            full
            or spec.get("target", 0) > 0
            or bool(np.any(spec.get("group_target", np.zeros(0)) > 0))
        )
    )
    x_orig = d.existing.copy()
    if not needs_solver:
        obj = float(d.cost[x_orig].sum())
        return _result(
            d, x_orig, objective=obj, bound=obj, status=Status.OPTIMAL, t0=t0, details=details
        )

    start = None
    if warm_start is not False:
        t = time.perf_counter()
        gt = spec.get("group_target")
        start = _heuristics.greedy_set_cover(
            inst.a,
            inst.w,
            spec.get("target", 0.0),
            inst.cost,
            must=inst.must,
            group_codes=inst.group if gt is not None else None,
            group_target=gt,
        )
        timings["heuristic_s"] = time.perf_counter() - t
        if start is not None:
            details["heuristic_objective"] = float(inst.cost[start].sum() + inst.const_cost)
    res, lp = _solve_instance(
        _SET_COVER_STEPS,
        inst,
        spec,
        start,
        _solve_opts(time_limit_s, mip_rel_gap, threads, enforce_wall_clock, log),
        timings,
        lp_bound,
        value_of=lambda xs: float(inst.cost[xs].sum() + inst.const_cost),
        maximize=False,
        warm_mode=_warm_mode(warm_start),
        probe_s=probe_s,
    )
    x = res.x
    if lp is not None:
        details["lp_bound"] = lp
    x_orig[inst.site_pos[x]] = True
    obj = float(d.cost[x_orig].sum())
    details["solve"] = {"solver": res.solver_name, "version": res.solver_version, **res.details}
    _verify_set_cover(d, x_orig, full, alpha, codes, share, gW)
    if abs(obj - res.objective) > 1e-6 * max(1.0, abs(obj)):
        logger.warning(
            "set cover: solver objective %.10g differs from recomputed %.10g", res.objective, obj
        )
    bound = min(res.bound, obj)
    return _result(d, x_orig, objective=obj, bound=bound, status=res.status, t0=t0, details=details)


def _verify_set_cover(
    d: _Data,
    x: np.ndarray,
    full: bool,
    alpha: float,
    codes: np.ndarray,
    share: np.ndarray,
    gW: np.ndarray,
) -> None:
    """Independent check of the returned sites against the original coverage matrix."""
    from gzcharge.errors import SolverError

    hit = (sp.csr_array(d.cover, dtype=np.int32) @ x.astype(np.int32)) > 0
    W = float(d.w.sum())
    tol = 1e-6 * max(1.0, W)
    if full and not hit.all():
        raise SolverError(
            f"internal check failed: demand {preview_ids(d.cm.rows[~hit])} left uncovered"
        )
    if not full and float(d.w[hit].sum()) < alpha * W - tol:
        raise SolverError("internal check failed: coverage target not met by the returned sites")
    if len(share):
        sel = hit & (codes >= 0)
        g = np.bincount(codes[sel], weights=d.w[sel], minlength=len(share))
        if (g < share * gW - tol).any():
            raise SolverError("internal check failed: a group coverage target is not met")


def max_cover(
    cost: CostMatrix | pd.DataFrame,
    radius: float | pd.Series | np.ndarray,
    weights: pd.Series | np.ndarray | None,
    *,
    p: int | None = None,
    budget: float | None = None,
    site_cost: pd.Series | np.ndarray | None = None,
    existing: Iterable[Any] | None = None,
    must_cover: Iterable[Any] | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 1e-4,
    threads: int | None = None,
    enforce_wall_clock: bool = True,
    reduce: bool = True,
    warm_start: bool | str = True,
    probe_s: float = 10.0,
    local_search_s: float = 5.0,
    lp_bound: bool | None = None,
    log: bool = False,
) -> LocateResult:
    """Maximal covering location (MCLP): most weight within ``radius`` of at most ``p`` sites / a budget.

    Parameters
    ----------
    cost
        Demand × site costs (DataFrame or :class:`~gzcharge.distances.CostMatrix`).
    radius
        Coverage radius: a number or one per demand id.
    weights
        Demand weights (Series by demand id or array in row order); ``None`` = 1 each.
    p
        Maximum number of open sites, existing ones included.
    budget
        Maximum total ``site_cost`` of open sites, existing ones included.
    site_cost
        Cost per site (default 1).
    existing
        Site ids open already.
    must_cover
        Demand ids that must be covered (hard constraints), e.g. every township seat; the
        rest of the weight is maximised.
    time_limit_s, mip_rel_gap, threads, enforce_wall_clock, log
        Solver controls (see :func:`gzcharge.solve.solve`).
    reduce, lp_bound
        Exact reductions; also solve the LP relaxation first (interior point;
        ``details["lp_bound"]``). Its optimum bounds the result, and when the heuristic is
        already within ``mip_rel_gap`` of it no branch-and-bound runs at all -- worth it on
        large instances, where HiGHS's own root LP (dual simplex) can take minutes.
        ``None`` (default) = only when the reduced model has more than 200,000 nonzeros.
    warm_start, probe_s, local_search_s
        Greedy + 1-swap heuristic start (``local_search_s`` seconds of swaps); modes as in
        :func:`set_cover`.

    Returns
    -------
    LocateResult
        ``objective`` = covered weight (existing coverage included), ``covered``,
        ``assignment`` (nearest open covering site), ``details``.

    Raises
    ------
    DataError
        Bad input, neither ``p`` nor ``budget``, ``p`` above the candidate count or below the
        number of existing sites, budget below the existing sites' cost.
    InfeasibleError
        ``must_cover`` demand that no candidate covers (named), or that cannot all be covered
        within ``p``/``budget``.
    """
    t0 = time.perf_counter()
    timings: dict = {}
    d = _prepare_data(cost, radius, weights, site_cost, existing, weights_required=False)
    n, m = d.cover.shape
    if p is None and budget is None:
        raise DataError(
            "max_cover needs p (number of sites) or budget (total site_cost); give one of them"
        )
    n_ex = int(d.existing.sum())
    p_ = _prepare.prepare_p(p, m, n_ex) if p is not None else None
    b_ = _prepare.prepare_budget(budget, d.cost, d.existing) if budget is not None else None
    must = _prepare.prepare_subset(must_cover, d.cm.rows, name="must_cover", what="demand")
    if must.any():
        _prepare.check_coverable(
            d.cover, d.cm.rows, np.flatnonzero(must), what="covering every must_cover demand point"
        )
    timings["prepare_s"] = time.perf_counter() - t0

    t = time.perf_counter()
    inst = _reduce_instance(
        d,
        keep_zero_weight=np.zeros(n, dtype=bool),
        must=must,
        group=np.full(n, -1),
        n_groups=0,
        reduce=reduce,
    )
    timings["reduce_s"] = time.perf_counter() - t
    return _max_cover_solve(
        d,
        must,
        inst,
        p_,
        b_,
        t0=t0,
        timings=timings,
        warm_start=warm_start,
        local_search_s=local_search_s,
        lp_bound=lp_bound,
        probe_s=probe_s,
        solve_opts=_solve_opts(time_limit_s, mip_rel_gap, threads, enforce_wall_clock, log),
        cache=None,
    )


def _max_cover_solve(
    d: _Data,
    must: np.ndarray,
    inst: _Instance,
    p_: int | None,
    b_: float | None,
    *,
    t0: float,
    timings: dict,
    warm_start: bool | str,
    local_search_s: float,
    lp_bound: bool | None,
    probe_s: float,
    solve_opts: dict,
    cache: dict | None,
) -> LocateResult:
    """Solve a prepared, reduced max-cover instance for one ``p``/budget (see :func:`max_cover`)."""
    n_ex = int(d.existing.sum())
    spec: dict = {"name": "max_cover"}
    if p_ is not None:
        spec["p"] = p_ - n_ex
    if b_ is not None:
        spec["budget"] = b_ - inst.const_cost
    details: dict = {"sizes": inst.sizes, "timings": timings}
    x_orig = d.existing.copy()
    J = inst.shape[1]
    trivial = inst.shape[0] == 0 or J == 0 or (spec.get("p", 0) == 0 and p_ is not None)
    if (
        not trivial
        and (p_ is None or spec["p"] >= J)
        and (b_ is None or inst.cost.sum() <= spec["budget"] + 1e-9)
    ):
        x_orig[inst.site_pos] = True  # every useful candidate fits
        trivial = True
    if trivial:
        if (
            must.any()
            and not ((sp.csr_array(d.cover, dtype=np.int32) @ x_orig.astype(np.int32)) > 0)[
                must
            ].all()
        ):
            raise InfeasibleError(
                "must_cover demand cannot be covered with p=0 new sites", unserved=[]
            )
        obj = float(
            d.w[(sp.csr_array(d.cover, dtype=np.int32) @ x_orig.astype(np.int32)) > 0].sum()
        )
        return _result(
            d, x_orig, objective=obj, bound=obj, status=Status.OPTIMAL, t0=t0, details=details
        )

    start = None
    if warm_start is not False:
        t = time.perf_counter()
        start = _heuristics.greedy_max_cover(
            inst.a,
            inst.w,
            p=spec.get("p"),
            site_cost=inst.cost,
            budget=spec.get("budget"),
            must=inst.must,
        )
        if b_ is None and local_search_s > 0:
            start = _heuristics.swap_max_cover(
                inst.a, inst.w, start, time_limit_s=local_search_s, must=inst.must
            )
        hits = sp.csr_array(inst.a, dtype=np.int32) @ start.astype(np.int32)
        if inst.must.any() and (hits[inst.must] == 0).any():
            start = None  # the greedy missed a hard row; let HiGHS find a start
        else:
            details["heuristic_objective"] = float(inst.w[hits > 0].sum() + inst.const_weight)
        timings["heuristic_s"] = time.perf_counter() - t
    rounding = None
    if b_ is None and warm_start is not False and not inst.must.any():

        def rounding(x_lp: np.ndarray) -> np.ndarray:
            """Open the p' sites with the largest LP values, then 1-swap local search."""
            mask = np.zeros(len(x_lp), dtype=bool)
            mask[np.argsort(-x_lp, kind="stable")[: spec["p"]]] = True
            return _heuristics.swap_max_cover(
                inst.a, inst.w, mask, time_limit_s=local_search_s, must=inst.must
            )

    try:
        res, lp = _solve_instance(
            _MAX_COVER_STEPS,
            inst,
            spec,
            start,
            solve_opts,
            timings,
            lp_bound,
            value_of=lambda xs: float(
                inst.w[(sp.csr_array(inst.a, dtype=np.int32) @ xs.astype(np.int32)) > 0].sum()
                + inst.const_weight
            ),
            maximize=True,
            warm_mode=_warm_mode(warm_start),
            probe_s=probe_s,
            lp_rounding=rounding,
            cache=cache,
        )
        x = res.x
    except InfeasibleError as exc:
        raise InfeasibleError(
            f"the {int(must.sum())} must_cover demand points cannot all be covered within "
            f"{'p=' + str(p_) if p_ is not None else ''}{' and ' if p_ is not None and b_ is not None else ''}"
            f"{'budget=' + format(b_, 'g') if b_ is not None else ''}; raise the limit or drop must_cover ids",
            unserved=d.cm.rows[must].tolist(),
        ) from exc
    if lp is not None:
        details["lp_bound"] = lp
    x_orig[inst.site_pos[x]] = True
    hit = (sp.csr_array(d.cover, dtype=np.int32) @ x_orig.astype(np.int32)) > 0
    obj = float(d.w[hit].sum())
    details["solve"] = {"solver": res.solver_name, "version": res.solver_version, **res.details}
    from gzcharge.errors import SolverError

    if p_ is not None and int(x_orig.sum()) > p_:
        raise SolverError(f"internal check failed: {int(x_orig.sum())} sites open for p={p_}")
    if b_ is not None and float(d.cost[x_orig].sum()) > b_ + 1e-6 * max(1.0, b_):
        raise SolverError("internal check failed: budget exceeded")
    if must.any() and not hit[must].all():
        raise SolverError("internal check failed: a must_cover demand point is uncovered")
    if abs(obj - res.objective) > 1e-6 * max(1.0, abs(obj)):
        logger.warning(
            "max cover: solver objective %.10g differs from recomputed %.10g", res.objective, obj
        )
    bound = max(res.bound, obj)
    return _result(d, x_orig, objective=obj, bound=bound, status=res.status, t0=t0, details=details)


def max_cover_sweep(
    cost: CostMatrix | pd.DataFrame,
    radius: float | pd.Series | np.ndarray,
    weights: pd.Series | np.ndarray | None,
    ps: Iterable[int],
    *,
    site_cost: pd.Series | np.ndarray | None = None,
    existing: Iterable[Any] | None = None,
    must_cover: Iterable[Any] | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 1e-4,
    threads: int | None = None,
    enforce_wall_clock: bool = True,
    reduce: bool = True,
    warm_start: bool | str = True,
    probe_s: float = 10.0,
    local_search_s: float = 5.0,
    lp_bound: bool | None = None,
    log: bool = False,
) -> dict[int, LocateResult]:
    """Max cover for several ``p`` (a coverage curve), building and translating the model once.

    Input checks and reductions run once; the Pyomo model is translated to HiGHS once and
    only the mutable right-hand side ``p`` changes between solves
    (:class:`gzcharge.solve.PersistentSolver`). Each ``p`` gets its own heuristic start and
    ``time_limit_s``. Arguments as in :func:`max_cover`.

    Returns
    -------
    dict
        ``p -> LocateResult``, in the order given. ``pd.Series({p: r.objective for p, r in
        out.items()})`` is the coverage curve.
    """
    t0 = time.perf_counter()
    d = _prepare_data(cost, radius, weights, site_cost, existing, weights_required=False)
    n, m = d.cover.shape
    n_ex = int(d.existing.sum())
    p_list = [_prepare.prepare_p(p, m, n_ex) for p in ps]
    if not p_list:
        raise DataError("max_cover_sweep needs at least one p")
    must = _prepare.prepare_subset(must_cover, d.cm.rows, name="must_cover", what="demand")
    if must.any():
        _prepare.check_coverable(
            d.cover, d.cm.rows, np.flatnonzero(must), what="covering every must_cover demand point"
        )
    inst = _reduce_instance(
        d,
        keep_zero_weight=np.zeros(n, dtype=bool),
        must=must,
        group=np.full(n, -1),
        n_groups=0,
        reduce=reduce,
    )
    shared_s = time.perf_counter() - t0
    cache: dict = {}
    out: dict[int, LocateResult] = {}
    for p_ in p_list:
        t = time.perf_counter()
        res = _max_cover_solve(
            d,
            must,
            inst,
            p_,
            None,
            t0=t,
            timings={"shared_prepare_reduce_s": shared_s},
            warm_start=warm_start,
            local_search_s=local_search_s,
            lp_bound=lp_bound,
            probe_s=probe_s,
            solve_opts=_solve_opts(time_limit_s, mip_rel_gap, threads, enforce_wall_clock, log),
            cache=cache,
        )
        out[p_] = res
    return out
