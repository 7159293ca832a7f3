r"""Flow-refuelling location (FRLM), arc-cover path-cover form (Capar et al. 2013).

Inputs are explicit paths (node-id sequences, one per OD pair -- ties in shortest paths are
the caller's choice), their flows :math:`f_q`, undirected edge lengths and a vehicle range
:math:`R`. Positions along a path are cumulative edge lengths from the origin; a path of
length :math:`L` with stations at :math:`s_1 \le \dots \le s_k` is **refuelled** when

* ``round_trip=True`` (default): :math:`k \ge 1`, :math:`s_1 \le R/2`,
  :math:`s_{i+1} - s_i \le R`, :math:`L - s_k \le R/2`.

  Derivation: the trip O→D→O is repeated, so it is a cycle of length :math:`2L` on which
  every station appears twice (out and back). A vehicle can run the cycle for ever iff
  every gap between consecutive stations *along the cycle* is at most :math:`R`. The gaps
  are the interior gaps :math:`s_{i+1}-s_i` (twice), the turn at the destination
  :math:`2(L - s_k)` and the turn at the origin :math:`2 s_1`. Hence the half-range rule at
  both ends ("leaves the origin with half a tank" is the same statement), and a station at
  the origin or destination makes that end free. Without any station the cycle cannot be
  run, so a one-node path (or zero-length path) needs a station on it.

* ``round_trip=False``: one-way trip leaving the origin with a full tank, allowed to arrive
  empty: :math:`s_1 \le R` (no station needed when :math:`L \le R`), gaps :math:`\le R`,
  :math:`L - s_k \le R`.

**Arc-cover sets.** For every arc :math:`a` of the (cyclic) trip, :math:`K_a^q` is the set of
candidate nodes within :math:`R` behind the arc's head along the trip (for round trips this
wraps through the origin/destination turn). The rule above holds iff every
:math:`K_a^q` holds an open station. Sets met by an existing station are dropped, duplicates
and supersets removed (per path), so a path contributes at most a few sets per candidate.

**Model** (:math:`x_k \in \{0,1\}` station at candidate :math:`k`, :math:`0 \le y_q \le 1`
path refuelled; :math:`y_q` is integral at an optimum because each right-hand side is an
integer when :math:`x` is):

.. math::

    \max \sum_q f_q y_q \quad \text{s.t.}\quad
    \sum_{k \in K_a^q} x_k \ge y_q \;\; \forall q, a;\qquad
    \sum_k x_k \le p \;\text{ and/or }\; \sum_k c_k x_k \le B;\qquad
    \sum_{k \in C} x_k \ge 1 \;\; \forall C \in \text{required\_covers};\qquad
    x_k = 1 \; (k \text{ existing})

:func:`frlm_min_cost` minimises :math:`\sum_k c_k x_k` subject to
:math:`\sum_q f_q y_q \ge \alpha \sum_q f_q` (:math:`\alpha = 1`: every path with flow is
refuelled, :math:`y_q = 1`). ``p`` and ``budget`` count existing stations (and their costs).

The objective reported is recomputed from the chosen stations by the direct rule above,
path by path (``refuelled``), never taken from the solver. The rule (and the charging-stop
rule used for sizing) has one implementation, :mod:`gzcharge.locate._paths`; its node-id
fronts :func:`path_refuelled` and :func:`path_stops` are re-exported here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gzcharge._util import import_pyomo, preview_ids
from gzcharge.errors import DataError, InfeasibleError
from gzcharge.locate._common import LocateResult, Status
from gzcharge.locate._paths import (
    arc_cover_sets,
    edge_lookup,
    path_positions,
    path_refuelled,
    path_stops,
    refuelled,
)

logger = logging.getLogger(__name__)

__all__ = ["frlm", "frlm_min_cost", "path_refuelled", "path_stops"]


# --------------------------------------------------------------------------- instance
@dataclass
class _Instance:
    """Everything the ``_define_*`` steps read."""

    path_ids: pd.Index
    flows: np.ndarray
    nodes: pd.Index  # station nodes: candidates + existing (variables x, in this order)
    existing: np.ndarray  # bool over nodes
    cost: np.ndarray  # per node
    set_path: np.ndarray  # path position of each arc-cover set
    set_indptr: np.ndarray
    set_nodes: np.ndarray  # node positions, CSR by set
    impossible: np.ndarray  # bool per path: no station choice refuels it
    free: np.ndarray  # bool per path: refuelled without any new station
    covers: list[np.ndarray] = field(default_factory=list)  # required covers (node positions)
    positions: list[np.ndarray] = field(default_factory=list)
    occ_node: list[np.ndarray] = field(default_factory=list)  # node position per path occurrence (-1: none)
    p: int | None = None
    budget: float | None = None
    target: float | None = None


def _prepare(
    paths: Sequence[Sequence[Any]],
    flows: Any,
    edge_lengths: Any,
    vehicle_range: float,
    *,
    candidates: Iterable[Any] | None,
    existing: Iterable[Any] | None,
    site_cost: Any,
    required_covers: Sequence[Sequence[Any]] | None,
    round_trip: bool,
) -> _Instance:
    """Validate inputs and build the arc-cover sets."""
    try:
        R = float(vehicle_range)
    except (TypeError, ValueError) as exc:
        raise DataError(f"vehicle_range must be a number, not {vehicle_range!r}") from exc
    if not np.isfinite(R) or R <= 0:
        raise DataError(f"vehicle_range must be a positive finite number, not {vehicle_range!r}")
    if paths is None or len(paths) == 0:
        raise DataError("paths is empty: give at least one path (a sequence of node ids)")
    paths = [list(q) if not isinstance(q, (str, bytes)) else q for q in paths]
    # flows
    if isinstance(flows, pd.Series):
        if len(flows) != len(paths):
            raise DataError(f"flows has {len(flows)} values but there are {len(paths)} paths")
        path_ids = pd.Index(flows.index)
        if not path_ids.is_unique:
            raise DataError(f"flows index (path ids) has duplicates: {preview_ids(path_ids[path_ids.duplicated()])}")
        f = pd.to_numeric(flows, errors="coerce").to_numpy(dtype=float)
    else:
        f = np.asarray(list(flows) if not isinstance(flows, np.ndarray) else flows, dtype=float).ravel()
        if len(f) != len(paths):
            raise DataError(f"flows has {len(f)} values but there are {len(paths)} paths")
        path_ids = pd.RangeIndex(len(paths))
    bad = ~np.isfinite(f) | (f < 0)
    if bad.any():
        shown = preview_ids(f"{i}={v}" for i, v in zip(path_ids[bad], f[bad], strict=True))
        raise DataError(f"flows must be finite and >= 0; bad values for paths {shown}")
    lengths = edge_lookup(edge_lengths)
    pos = path_positions(paths, lengths)
    # station nodes
    on_paths = pd.Index(pd.unique(np.concatenate([np.asarray(q, dtype=object) for q in paths])))
    if candidates is None:
        cand = on_paths
    else:
        cand = pd.Index(list(candidates)).unique()
        if cand.empty:
            raise DataError("candidates is empty; give candidate node ids or leave it out (all path nodes)")
        off = cand.difference(on_paths, sort=False)
        if len(off):
            logger.info("%d candidate nodes lie on no path and cannot refuel any flow: %s", len(off), preview_ids(off))
    ex = pd.Index([] if existing is None else list(existing)).unique()
    nodes = cand.append(ex.difference(cand, sort=False))
    is_ex = nodes.isin(ex)
    if site_cost is None:
        cost = np.ones(len(nodes))
    else:
        ser = pd.Series(site_cost, dtype=float) if isinstance(site_cost, Mapping) else site_cost
        if not isinstance(ser, pd.Series):
            raise DataError("site_cost must be a Series or mapping node id -> cost")
        missing = nodes.difference(ser.index, sort=False)
        if len(missing):
            raise DataError(f"site_cost has no value for station nodes {preview_ids(missing)}; give one per candidate")
        cost = pd.to_numeric(ser.reindex(nodes), errors="coerce").to_numpy(dtype=float)
        badc = ~np.isfinite(cost) | (cost < 0)
        if badc.any():
            raise DataError(f"site_cost must be finite and >= 0; bad for nodes {preview_ids(nodes[badc])}")
    # arc-cover sets per path
    set_path, set_lists = [], []
    impossible = np.zeros(len(paths), dtype=bool)
    free = np.zeros(len(paths), dtype=bool)
    occ_nodes = []
    for q, path in enumerate(paths):
        occ = nodes.get_indexer(pd.Index(path, dtype=object))
        occ_nodes.append(occ)
        sets, imp = arc_cover_sets(pos[q], occ >= 0, (occ >= 0) & is_ex[np.maximum(occ, 0)], R, round_trip=round_trip)
        if imp:
            impossible[q] = True
            continue
        if not sets:
            free[q] = True
            continue
        for s in sets:
            set_path.append(q)
            set_lists.append(np.unique(occ[s]))
    counts = np.array([len(s) for s in set_lists], dtype=np.int64)
    cov = []
    for c_i, cover in enumerate(required_covers or []):
        cp = nodes.get_indexer(pd.Index(list(cover), dtype=object))
        cp = np.unique(cp[cp >= 0])
        if len(cp) == 0:
            raise InfeasibleError(
                f"required cover {c_i} ({preview_ids(cover)}) contains no candidate or existing station node; "
                "add candidates there or drop the cover"
            )
        if is_ex[cp].any():
            continue
        cov.append(cp)
    return _Instance(
        path_ids=path_ids,
        flows=f,
        nodes=nodes,
        existing=is_ex,
        cost=cost,
        set_path=np.asarray(set_path, dtype=np.int64),
        set_indptr=np.r_[0, np.cumsum(counts)],
        set_nodes=np.concatenate(set_lists) if set_lists else np.zeros(0, dtype=np.int64),
        impossible=impossible,
        free=free,
        covers=cov,
        positions=pos,
        occ_node=occ_nodes,
    )


# --------------------------------------------------------------------------- model steps
def _define_stations(m: Any, inst: _Instance) -> None:
    """Binary station variable per candidate/existing node; existing fixed open."""
    import pyomo.environ as pyo

    m.x = pyo.Var(range(len(inst.nodes)), domain=pyo.Binary)
    for k in np.flatnonzero(inst.existing).tolist():
        m.x[k].fix(1)


def _define_refuelled(m: Any, inst: _Instance) -> None:
    """Continuous 0 <= y_q <= 1 per path; impossible paths fixed to 0, free ones to 1."""
    import pyomo.environ as pyo

    m.y = pyo.Var(range(len(inst.flows)), bounds=(0, 1))
    for q in np.flatnonzero(inst.impossible).tolist():
        m.y[q].fix(0)
    for q in np.flatnonzero(inst.free).tolist():
        m.y[q].fix(1)


def _define_arc_cover(m: Any, inst: _Instance) -> None:
    """Σ_{k∈K_a^q} x_k - y_q >= 0 for every kept arc-cover set."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    xs = list(m.x.values())
    ys = list(m.y.values())
    ip = inst.set_indptr.tolist()
    nodes = inst.set_nodes.tolist()
    sp_ = inst.set_path.tolist()

    def rule(_m: Any, s: int) -> Any:
        a, b = ip[s], ip[s + 1]
        lv = [xs[k] for k in nodes[a:b]] + [ys[sp_[s]]]
        co = [1.0] * (b - a) + [-1.0]
        return (0.0, LinearExpression(constant=0, linear_coefs=co, linear_vars=lv), None)

    m.arc_cover = pyo.Constraint(range(len(sp_)), rule=rule)


def _define_required_covers(m: Any, inst: _Instance) -> None:
    """Caller's extra rules: at least one open station in each required cover."""
    import pyomo.environ as pyo

    xs = list(m.x.values())
    covers = [c.tolist() for c in inst.covers]
    m.required_cover = pyo.Constraint(range(len(covers)), rule=lambda _m, i: sum(xs[k] for k in covers[i]) >= 1)


def _define_station_limit(m: Any, inst: _Instance) -> None:
    """At most p stations and/or total station cost within the budget (existing included)."""
    import pyomo.environ as pyo

    if inst.p is not None:
        m.p_limit = pyo.Param(mutable=True, initialize=inst.p)
        m.station_count = pyo.Constraint(expr=sum(m.x.values()) <= m.p_limit)
    if inst.budget is not None:
        m.budget_limit = pyo.Param(mutable=True, initialize=inst.budget)
        c = inst.cost.tolist()
        m.station_budget = pyo.Constraint(expr=sum(c[k] * m.x[k] for k in range(len(c))) <= m.budget_limit)


def _define_flow_objective(m: Any, inst: _Instance) -> None:
    """Maximise refuelled flow."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    m.obj = pyo.Objective(
        expr=LinearExpression(constant=0, linear_coefs=inst.flows.tolist(), linear_vars=list(m.y.values())),
        sense=pyo.maximize,
    )


def _define_flow_target(m: Any, inst: _Instance) -> None:
    """Refuelled flow at least the target (min-cost mode)."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    m.flow_target = pyo.Constraint(
        expr=LinearExpression(constant=0, linear_coefs=inst.flows.tolist(), linear_vars=list(m.y.values()))
        >= inst.target
    )


def _define_cost_objective(m: Any, inst: _Instance) -> None:
    """Minimise total station cost (existing stations included as a constant)."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    m.obj = pyo.Objective(
        expr=LinearExpression(constant=0, linear_coefs=inst.cost.tolist(), linear_vars=list(m.x.values())),
        sense=pyo.minimize,
    )


def _build(inst: _Instance, steps: list) -> Any:
    pyo = import_pyomo()  # not `import pyomo.environ`: see gzcharge._util.import_pyomo

    m = pyo.ConcreteModel(name="frlm")
    for step in steps:
        step(m, inst)
    return m


# --------------------------------------------------------------------------- results
def _check_paths(inst: _Instance, open_nodes: np.ndarray, vehicle_range: float, round_trip: bool) -> np.ndarray:
    """Refuelled flag per path by the direct rule (independent of the arc-cover sets)."""
    out = np.zeros(len(inst.flows), dtype=bool)
    for q, occ in enumerate(inst.occ_node):
        st = (occ >= 0) & open_nodes[np.maximum(occ, 0)]
        out[q] = refuelled(inst.positions[q], st, vehicle_range, round_trip=round_trip)
    return out


def _result(
    inst: _Instance, open_nodes: np.ndarray, res: Any, objective: float, t0: float, details: dict,
    vehicle_range: float, round_trip: bool, ok: np.ndarray,
) -> LocateResult:
    bound = float(res.bound)
    gap = abs(objective - bound) / max(abs(objective), 1e-9) if np.isfinite(bound) else float("inf")
    status = res.status
    if status is Status.OPTIMAL and gap < 1e-9:
        gap = 0.0
    details.update(
        {
            "refuelled_flow": float(inst.flows[ok].sum()),
            "total_flow": float(inst.flows.sum()),
            "station_cost": float(inst.cost[open_nodes].sum()),
            "new_sites": inst.nodes[open_nodes & ~inst.existing].tolist(),
            "impossible_paths": inst.path_ids[inst.impossible].tolist(),
            "n_arc_sets": len(inst.set_path),
            "solve_s": res.seconds,
        }
    )
    return LocateResult(
        selected=inst.nodes[open_nodes].tolist(),
        objective=float(objective),
        bound=bound,
        gap=float(gap),
        status=status,
        seconds=time.perf_counter() - t0,
        refuelled=pd.Series(ok, index=inst.path_ids, name="refuelled"),
        details=details,
    )


def _solve_opts(time_limit_s: float | None, mip_rel_gap: float, threads: int | None, enforce_wall_clock: bool, log: bool) -> dict:
    return {
        "time_limit_s": time_limit_s,
        "mip_rel_gap": mip_rel_gap,
        "threads": threads,
        "enforce_wall_clock": bool(enforce_wall_clock and time_limit_s is not None),
        "log": log,
    }


# --------------------------------------------------------------------------- public API
def frlm(
    paths: Sequence[Sequence[Any]],
    flows: pd.Series | Sequence[float] | np.ndarray,
    edge_lengths: Mapping[tuple[Any, Any], float],
    vehicle_range: float,
    *,
    p: int | None = None,
    budget: float | None = None,
    candidates: Iterable[Any] | None = None,
    existing: Iterable[Any] | None = None,
    round_trip: bool = True,
    site_cost: pd.Series | Mapping | None = None,
    required_covers: Sequence[Sequence[Any]] | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 1e-6,
    threads: int | None = None,
    enforce_wall_clock: bool = True,
    log: bool = False,
) -> LocateResult:
    """Maximise refuelled flow with at most ``p`` stations and/or a budget (FRLM, ACPC form).

    Parameters
    ----------
    paths
        One node-id sequence per OD pair (explicit: ties are the caller's choice).
    flows
        Flow per path: a Series (its index becomes the path ids) or a sequence in path order.
    edge_lengths
        ``(u, v) -> length`` (undirected: ``(v, u)`` is looked up as ``(u, v)`` unless given).
    vehicle_range
        Range in the unit of the edge lengths.
    p
        Maximum number of stations, existing ones included.
    budget
        Maximum total ``site_cost`` of stations, existing ones included.
    candidates
        Node ids that may get a station (default: every node on a path).
    existing
        Node ids with a station already (always open).
    round_trip
        Round-trip rule (half range at each end) or one-way with a full tank at the origin;
        see the module docstring.
    site_cost
        Node id -> station cost (needed with ``budget``; default 1 per station).
    required_covers
        Extra rules: each list of node ids must contain at least one open station (e.g. a
        "maximum gap" rule along an expressway).
    time_limit_s, mip_rel_gap, threads, enforce_wall_clock, log
        Passed to :func:`gzcharge.solve.solve`.

    Returns
    -------
    LocateResult
        ``selected`` station node ids; ``objective`` refuelled flow recomputed path by path;
        ``refuelled`` boolean per path id; ``details`` has ``refuelled_flow``,
        ``total_flow``, ``station_cost``, ``new_sites``, ``impossible_paths`` (paths no
        station choice can refuel: an edge longer than the range, or too few candidates).

    Raises
    ------
    DataError
        Bad paths/flows/edges/range, unknown edges (naming path index and edge), neither or
        an invalid ``p``/``budget``.
    InfeasibleError
        A required cover holds no candidate, or the limits cannot meet the required covers.
    """
    from gzcharge.solve import solve

    t0 = time.perf_counter()
    if p is None and budget is None:
        raise DataError("frlm needs p (number of stations) and/or budget (with site_cost)")
    inst = _prepare(
        paths, flows, edge_lengths, vehicle_range, candidates=candidates, existing=existing,
        site_cost=site_cost, required_covers=required_covers, round_trip=round_trip,
    )
    n_ex = int(inst.existing.sum())
    if p is not None:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0:
            raise DataError(f"p must be a whole number >= 0, not {p!r}")
        n_cand = len(inst.nodes)
        if p > n_cand:
            raise DataError(f"p={p} is larger than the number of candidate station nodes ({n_cand}); lower p")
        if p < n_ex:
            raise DataError(f"p={p} is smaller than the number of existing stations ({n_ex}); p counts them")
        inst.p = int(p)
    if budget is not None:
        try:
            b = float(budget)
        except (TypeError, ValueError) as exc:
            raise DataError(f"budget must be a number, not {budget!r}") from exc
        fixed = float(inst.cost[inst.existing].sum())
        if not np.isfinite(b) or b < 0:
            raise DataError(f"budget must be a finite number >= 0, not {budget!r}")
        if b + 1e-9 * max(1.0, abs(b)) < fixed:
            raise DataError(f"budget {b:g} is below the cost of the existing stations ({fixed:g}); raise the budget")
        inst.budget = b
    t = time.perf_counter()
    model = _build(inst, [
        _define_stations, _define_refuelled, _define_arc_cover, _define_required_covers,
        _define_station_limit, _define_flow_objective,
    ])
    details: dict[str, Any] = {"build_s": time.perf_counter() - t, "prepare_s": t - t0}
    res = solve(model, load_solution=False, **_solve_opts(time_limit_s, mip_rel_gap, threads, enforce_wall_clock, log))
    open_nodes = np.asarray(res.values(model.x)) > 0.5
    ok = _check_paths(inst, open_nodes, vehicle_range, round_trip)
    objective = float(inst.flows[ok].sum())
    return _result(inst, open_nodes, res, objective, t0, details, vehicle_range, round_trip, ok)


def frlm_min_cost(
    paths: Sequence[Sequence[Any]],
    flows: pd.Series | Sequence[float] | np.ndarray,
    edge_lengths: Mapping[tuple[Any, Any], float],
    vehicle_range: float,
    *,
    target_share: float = 1.0,
    candidates: Iterable[Any] | None = None,
    existing: Iterable[Any] | None = None,
    round_trip: bool = True,
    site_cost: pd.Series | Mapping | None = None,
    required_covers: Sequence[Sequence[Any]] | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 1e-6,
    threads: int | None = None,
    enforce_wall_clock: bool = True,
    log: bool = False,
) -> LocateResult:
    """Cheapest stations (fewest, without ``site_cost``) refuelling ``target_share`` of the flow.

    Parameters are those of :func:`frlm`; ``target_share`` in ``[0, 1]`` is the share of total
    flow that must be refuelled (1.0: every path with flow). ``objective`` is the total station
    cost (existing stations included); ``details['refuelled_flow']`` the flow refuelled.

    Raises
    ------
    InfeasibleError
        Paths with flow that no station choice can refuel (named) when the target needs them.
    """
    from gzcharge.solve import solve

    t0 = time.perf_counter()
    try:
        share = float(target_share)
    except (TypeError, ValueError) as exc:
        raise DataError(f"target_share must be a number in [0, 1], not {target_share!r}") from exc
    if not 0 <= share <= 1:
        raise DataError(f"target_share must be in [0, 1], not {target_share!r}")
    inst = _prepare(
        paths, flows, edge_lengths, vehicle_range, candidates=candidates, existing=existing,
        site_cost=site_cost, required_covers=required_covers, round_trip=round_trip,
    )
    total = float(inst.flows.sum())
    reachable = float(inst.flows[~inst.impossible].sum())
    bad = inst.impossible & (inst.flows > 0)
    if share >= 1.0 and bad.any():
        ids = inst.path_ids[bad]
        raise InfeasibleError(
            f"{len(ids)} paths with flow can never be refuelled (an edge longer than the range or no candidate "
            f"close enough): {preview_ids(ids)}; add candidates or lower target_share",
            unserved=list(ids),
        )
    target = share * total
    if reachable < target * (1 - 1e-12):
        ids = inst.path_ids[bad]
        raise InfeasibleError(
            f"at most {reachable:g} of {total:g} flow ({reachable / max(total, 1e-12):.1%}) can be refuelled, below "
            f"target_share {share:.1%}; paths that cannot be refuelled: {preview_ids(ids)}",
            unserved=list(ids),
        )
    inst.target = target
    steps = [_define_stations, _define_refuelled, _define_arc_cover, _define_required_covers,
             _define_flow_target, _define_cost_objective]
    t = time.perf_counter()
    model = _build(inst, steps)
    if share >= 1.0:
        for q in np.flatnonzero((inst.flows > 0) & ~inst.impossible).tolist():
            model.y[q].fix(1)
    details: dict[str, Any] = {"build_s": time.perf_counter() - t, "prepare_s": t - t0, "target_flow": target}
    res = solve(model, load_solution=False, **_solve_opts(time_limit_s, mip_rel_gap, threads, enforce_wall_clock, log))
    open_nodes = np.asarray(res.values(model.x)) > 0.5
    ok = _check_paths(inst, open_nodes, vehicle_range, round_trip)
    if float(inst.flows[ok].sum()) < target * (1 - 1e-9) - 1e-9:
        raise InfeasibleError("the solver's stations refuel less flow than the target (internal check failed)")
    objective = float(inst.cost[open_nodes].sum())
    return _result(inst, open_nodes, res, objective, t0, details, vehicle_range, round_trip, ok)
