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

from gzcharge._util import preview_ids
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
_MAX_COVER_STEPS = "max_cover"
_SET_COVER_STEPS = "set_cover"


def _arrays(kind: str, inst: _Instance, spec: dict) -> Any:
    """The coverage model as an :class:`gzcharge.solve.ArrayModel` (built from the CSR matrix).

    Columns: ``x`` (sites, binary), then ``y`` (rows that are not hard-covered, ``[0, 1]``).
    Row blocks: ``cover_link`` ``y_i - Σ_{N_i} x_j <= 0``; ``hard_cover`` ``Σ_{N_i} x_j >= 1``;
    max cover: ``cardinality`` ``Σ x_j <= p'`` and ``budget`` ``Σ c_j x_j <= B'``; set cover:
    ``coverage_target`` ``Σ w_i y_i >= target`` and ``group_target`` per active group. The Pyomo
    twin (:func:`_build`) is made from these arrays, so both describe one model.
    """
    from gzcharge.solve import ArrayModel

    k, m = inst.shape
    free = np.flatnonzero(~inst.must)
    hard = np.flatnonzero(inst.must)
    spec["free_rows"] = free
    nf = len(free)
    a = sp.csr_array(inst.a, dtype=np.float64)
    parts, lo, hi, row_blocks = [], [], [], {}
    n_rows = 0

    def add(name: str, mat: sp.csr_array, rlo: np.ndarray, rhi: np.ndarray) -> None:
        nonlocal n_rows
        if mat.shape[0] == 0:
            return
        parts.append(sp.csr_array(mat))
        lo.append(np.asarray(rlo, float))
        hi.append(np.asarray(rhi, float))
        row_blocks[name] = (n_rows, mat.shape[0])
        n_rows += mat.shape[0]

    eye_y = sp.eye_array(nf, format="csr")
    add("cover_link", sp.hstack([-a[free], eye_y], format="csr"), np.full(nf, -np.inf), np.zeros(nf))
    add(
        "hard_cover",
        sp.hstack([a[hard], sp.csr_array((len(hard), nf))], format="csr"),
        np.ones(len(hard)),
        np.full(len(hard), np.inf),
    )
    wy = inst.w[free].astype(float)
    if kind == _MAX_COVER_STEPS:
        c = np.r_[np.zeros(m), wy]
        offset = inst.const_weight + float(inst.w[inst.must].sum())
        sense = "max"
        if spec.get("p") is not None:
            add("cardinality", sp.csr_array(np.r_[np.ones(m), np.zeros(nf)][None, :]),
                [-np.inf], [float(spec["p"])])
        if spec.get("budget") is not None:
            add("budget", sp.csr_array(np.r_[inst.cost, np.zeros(nf)][None, :]),
                [-np.inf], [float(spec["budget"])])
    else:
        c = np.r_[inst.cost.astype(float), np.zeros(nf)]
        offset = float(inst.const_cost)
        sense = "min"
        if spec.get("target") is not None:
            add("coverage_target", sp.csr_array(np.r_[np.zeros(m), wy][None, :]),
                [float(spec["target"])], [np.inf])
        gt = spec.get("group_target")
        if gt is not None and len(gt):
            active = np.flatnonzero(np.asarray(gt) > 1e-12)
            g_of = inst.group[free]
            pos = np.full(max(len(gt), 1), -1)
            pos[active] = np.arange(len(active))
            sel = (g_of >= 0) & (pos[np.maximum(g_of, 0)] >= 0)
            mat = sp.csr_array(
                (wy[sel], (pos[g_of[sel]], m + np.flatnonzero(sel))), shape=(len(active), m + nf)
            )
            add("group_target", mat, np.asarray(gt, float)[active], np.full(len(active), np.inf))
    big_a = sp.vstack(parts, format="csr") if parts else sp.csr_array((0, m + nf))
    return ArrayModel(
        c=c,
        a=big_a,
        row_lower=np.concatenate(lo) if lo else np.zeros(0),
        row_upper=np.concatenate(hi) if hi else np.zeros(0),
        lower=np.zeros(m + nf),
        upper=np.ones(m + nf),
        integer=np.r_[np.ones(m, bool), np.zeros(nf, bool)],
        blocks={"x": (0, m), "y": (m, nf)},
        row_blocks=row_blocks,
        offset=offset,
        sense=sense,
        name=spec.get("name", "coverage"),
    )


def _build(kind: str, inst: _Instance, spec: dict) -> Any:
    """The coverage model in Pyomo (for inspection/export), made from :func:`_arrays`."""
    return _arrays(kind, inst, spec).to_pyomo()


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
    steps: str,
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
    """Build the arrays, hand them to HiGHS and solve; returns the best outcome and the LP bound.

    Every phase runs under the one deadline of ``solve_opts["deadline"]`` (the caller's
    ``time_limit_s``, counted from the start of the public call):

    1. ``lp_bound`` (auto: more than ``_AUTO_LP_BOUND_NNZ`` nonzeros; smaller models: after a
       probe that does not finish): the LP relaxation by interior point, in at most 40 % of the
       time left; it counts only when solved to optimality. When the heuristic is within the gap
       of it, nothing else runs.
    2. MIP phases. ``warm_mode="auto"``: a probe without start (``probe_s``; a MIP start has made
       HiGHS 1.16 much slower on easy, nearly integral instances), then, with an LP solution,
       the sub-MIP of the sites the LP uses (half of the time left; its bound is not a bound of
       the model) -- for full set cover instead the window search of
       :func:`~gzcharge.locate._heuristics.set_cover_lns` (70 % of the time left; without a
       time limit until its own stopping rule) -- then the full model with the rest. ``"start"``: the full model with a MIP
       start. ``"none"``: the full model without. Each phase after the first starts from the
       **best solution found so far** (heuristic or an earlier phase).
    3. The bound is the tightest valid one over the phases and the LP relaxation; when the
       phases leave no bound within 10x the gap and no LP bound was solved, the LP relaxation
       runs in the time left (so a stopped probe never reports a trivial bound).

    ``lp_rounding`` turns the LP relaxation's site values into a second heuristic start
    (used when it beats the first). ``cache`` (a dict) keeps the built model across calls that
    differ only in ``p``/budget (a sweep).
    """
    from gzcharge.errors import SolverError
    from gzcharge.solve import Deadline, PersistentSolver

    opts = dict(solve_opts)
    threads = opts.pop("threads", None)
    dl: Deadline = opts.pop("deadline", None) or Deadline(opts.get("time_limit_s"))
    opts.pop("time_limit_s", None)
    gap_tol = opts["mip_rel_gap"]
    if cache is not None and "ps" in cache:
        # a sweep: the model is reused; only the right-hand sides of p / budget change
        ps = cache["ps"]
        for key, val in cache["spec"].items():  # sets derived while building (free_rows, ...)
            spec.setdefault(key, val)
        if spec.get("p") is not None:
            ps.set_rows("cardinality", upper=[float(spec["p"])])
        if spec.get("budget") is not None:
            ps.set_rows("budget", upper=[float(spec["budget"])])
        timings["build_s"] = timings["translate_s"] = 0.0
    else:
        t = time.perf_counter()
        model = _arrays(steps, inst, spec)
        timings["build_s"] = time.perf_counter() - t
        t = time.perf_counter()
        ps = PersistentSolver(model, threads=threads)
        timings["translate_s"] = time.perf_counter() - t
        if cache is not None:
            cache.update(ps=ps, spec=spec)
    m_sites = inst.shape[1]
    free = spec["free_rows"]
    a_int = sp.csr_array(inst.a, dtype=np.int32)

    def better(v: float, than: float | None) -> bool:
        if than is None:
            return True
        tol = 1e-9 * max(1.0, abs(than))
        return v > than + tol if maximize else v < than - tol

    def warm_of(xs: np.ndarray) -> dict:
        hits = a_int @ xs.astype(np.int32)
        return {"x": xs.astype(float), "y": np.minimum(hits[free], 1).astype(float)}

    best_x = None if start is None else start.copy()
    best_v = None if start is None else value_of(start)
    best_from = "heuristic"
    lp = None
    x_lp = None

    def lp_phase(share: float) -> None:
        """LP relaxation (interior point + crossover: far faster than dual simplex here)."""
        nonlocal lp, x_lp, best_x, best_v, start
        t = time.perf_counter()
        try:
            lp_res = ps.solve(relax_integrality=True, load_solution=False, options={"solver": "ipm"},
                              time_limit_s=dl.share(share), deadline=dl)
            if lp_res.status == Status.OPTIMAL:
                lp = lp_res.objective
                x_lp = np.asarray(lp_res.values("x"), dtype=float)
        except SolverError as exc:
            logger.info("LP relaxation stopped without a solution (%s)", exc)
        timings["lp_s"] = timings.get("lp_s", 0.0) + time.perf_counter() - t
        if lp_rounding is not None and x_lp is not None and m_sites:
            t = time.perf_counter()
            cand = lp_rounding(x_lp)
            if better(value_of(cand), best_v):
                best_x, best_v = cand, value_of(cand)
                start = cand
            timings["lp_rounding_s"] = time.perf_counter() - t

    # auto (None): the LP first on large models; on smaller ones only after a probe that does not
    # finish (set cover 10k x 2k: the sub-MIP on the LP's sites found 175 sites where the full
    # model found 181 in the same minute)
    lp_first = bool(lp_bound) if lp_bound is not None else inst.a.nnz > _AUTO_LP_BOUND_NNZ
    lp_later = lp_bound is None and not lp_first
    if lp_first and not dl.expired:
        lp_phase(0.4)
    if lp is not None and best_v is not None and abs(lp - best_v) <= gap_tol * max(abs(best_v), 1e-9):
        # the heuristic is proven within the gap by the LP bound: no branch-and-bound needed
        timings["solve_s"] = 0.0
        lpd = {"phases": ["lp_bound"], "best_from": "heuristic"}
        return _Outcome(best_x.copy(), Status.OPTIMAL, best_v, lp, "highs", ps._version, lpd), lp
    t_solve = time.perf_counter()
    phases: list[tuple[str, bool, float | None]] = []  # name, warm from the best, share of left
    # full set cover (every row hard, no targets): the window search of _heuristics.set_cover_lns
    # replaces the LP-support sub-MIP (road-like 10k x 2k: 169-173 sites where plain HiGHS finds
    # 175-179 in 60 s, and the sub-MIP 175-180)
    lns = (steps == _SET_COVER_STEPS and bool(inst.must.all()) and "target" not in spec
           and "group_target" not in spec)
    if start is not None and warm_mode == "auto":
        phases.append(("probe", False, None))
        if lns:
            phases.append(("lns", True, 0.7))
        elif (x_lp is not None or lp_later) and dl.limited:
            phases.append(("lp_support", True, 0.5))
        phases.append(("warm", True, 1.0))
    elif start is not None and warm_mode == "start":
        phases.append(("warm", True, 1.0))
    else:
        phases.append(("plain", False, 1.0))
    runs: list = []
    runs_info: dict = {}
    done: list[str] = []  # phases in the order they ran
    bounds: list[float] = []
    proven = False
    for name, use_best, frac in phases:
        if name == "probe":
            lim = probe_s if not dl.limited else min(probe_s, dl.left())
        else:
            lim = dl.share(frac) if dl.limited else None
        if lim is not None and lim <= 0.5:
            if name == "probe" and (dl.left() or 0.0) > 0.5:
                continue  # a probe shorter than HiGHS's start-up: skip it, not the phases after it
            break
        if name == "lns":
            t = time.perf_counter()
            x_n, info = _heuristics.set_cover_lns(inst.a, inst.cost, best_x, deadline=Deadline.of(dl, lim))
            timings["lns_s"] = time.perf_counter() - t
            runs_info["lns"] = info
            done.append(name)
            if better(value_of(x_n), best_v):
                best_x, best_v, best_from = x_n, value_of(x_n), name
            continue
        fix = None
        if name == "lp_support" and x_lp is None:
            lp_phase(0.3)
            if x_lp is None:
                continue
            if best_v is not None and abs(lp - best_v) <= gap_tol * max(abs(best_v), 1e-9):
                proven = True
                break
            lim = dl.share(frac) if dl.limited else None
            if lim is not None and lim <= 0.5:
                break
        if name == "lp_support":
            # sub-MIP heuristic: sites the LP leaves at 0 (and the best plan does not use) are
            # fixed closed; its solution is feasible for the full model, its bound is not a bound
            fix = {"x": np.where((x_lp < 1e-6) & ~best_x, 0.0, np.nan)}
        ws = warm_of(best_x) if use_best and best_x is not None else None
        try:
            res = ps.solve(warm_start=ws, time_limit_s=lim, load_solution=False, fix=fix,
                           deadline=dl, **opts)
        except SolverError as exc:  # e.g. the probe stopped without an incumbent
            logger.info("%s solve found nothing (%s); going on", name, exc)
            continue
        runs.append((name, res))
        done.append(name)
        x_r = np.round(res.values("x")).astype(bool) if m_sites else np.zeros(0, dtype=bool)
        if better(res.objective, best_v):
            best_x, best_v, best_from = x_r, res.objective, name
        if name != "lp_support":
            bounds.append(res.bound)
            if res.status == Status.OPTIMAL:
                proven = True
                break
    timings["solve_s"] = time.perf_counter() - t_solve
    if best_x is None:
        raise SolverError("HiGHS found no solution within the time limit")
    valid = [b for b in bounds if np.isfinite(b)]
    if lp is not None:
        valid.append(lp)
    bound = (min(valid) if maximize else max(valid)) if valid else (
        float("inf") if maximize else float("-inf"))
    weak = not np.isfinite(bound) or abs(bound - best_v) > 10 * gap_tol * max(abs(best_v), 1e-9)
    if weak and lp is None and not proven and not dl.expired:
        t = time.perf_counter()
        try:
            lp_res = ps.solve(relax_integrality=True, load_solution=False, deadline=dl)
            if lp_res.status == Status.OPTIMAL:
                lp = lp_res.objective
                bound = min(bound, lp) if maximize else max(bound, lp)
        except SolverError as exc:
            logger.info("LP relaxation for the bound stopped without a solution (%s)", exc)
        timings["lp_s"] = time.perf_counter() - t
    bound = max(bound, best_v) if maximize else min(bound, best_v)
    status = Status.OPTIMAL if proven else Status.TIME_LIMIT_FEASIBLE
    if status == Status.TIME_LIMIT_FEASIBLE and abs(bound - best_v) <= gap_tol * max(abs(best_v), 1e-9):
        status = Status.OPTIMAL
    last = runs[-1][1] if runs else None
    details = dict(last.details) if last is not None else {}
    details.update({"phases": done, "best_from": best_from, **runs_info})
    version = last.solver_version if last is not None else ps._version
    return _Outcome(best_x, status, best_v, bound, "highs", version, details), lp


def _deadline(time_limit_s: float | None) -> Any:
    from gzcharge.solve import Deadline

    return Deadline(time_limit_s)


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
    deadline: Any = None,
) -> dict:
    from gzcharge.solve import Deadline

    return {
        "deadline": Deadline.of(deadline, time_limit_s),
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
    dl = _deadline(time_limit_s)  # bounds the whole call
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
        if full and inst.shape[0]:
            # Lagrangian heuristic (Beasley 1990): its bound is kept, its cover replaces the greedy's
            # when cheaper (50k x 5k, 2 M pairs: greedy 227 sites where HiGHS found 183 in a minute)
            lag_b, lag_x = _heuristics.set_cover_lagrangian(
                inst.a, inst.cost, time_limit_s=min(5.0, 0.05 * (dl.left() or 100.0))
            )
            details["lagrangian_bound"] = lag_b + inst.const_cost
            if lag_x is not None and (start is None or inst.cost[lag_x].sum() < inst.cost[start].sum() - 1e-9):
                start = lag_x
        timings["heuristic_s"] = time.perf_counter() - t
        if start is not None:
            details["heuristic_objective"] = float(inst.cost[start].sum() + inst.const_cost)
    res, lp = _solve_instance(
        _SET_COVER_STEPS,
        inst,
        spec,
        start,
        _solve_opts(time_limit_s, mip_rel_gap, threads, enforce_wall_clock, log, deadline=dl),
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
    bound = res.bound
    if "lagrangian_bound" in details:  # valid even when every solve stopped before its root LP
        bound = max(bound, details["lagrangian_bound"])
    bound = min(bound, obj)
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
    dl = _deadline(time_limit_s)  # bounds the whole call
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
        solve_opts=_solve_opts(time_limit_s, mip_rel_gap, threads, enforce_wall_clock, log, deadline=dl),
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
        dl = solve_opts.get("deadline")
        ls_s = local_search_s if dl is None or not dl.limited else min(local_search_s, dl.share(0.1))
        if b_ is None and ls_s > 0:
            start = _heuristics.swap_max_cover(
                inst.a, inst.w, start, time_limit_s=ls_s, must=inst.must
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
            dl = solve_opts.get("deadline")
            ls = local_search_s if dl is None or not dl.limited else min(local_search_s, dl.share(0.1))
            return _heuristics.swap_max_cover(inst.a, inst.w, mask, time_limit_s=ls, must=inst.must)

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
