"""Highway fast-charging plan: flow refuelling with a maximum-gap rule, sizing, result layers.

Tier contract: :func:`prepare_highway` (corridors, candidates, traffic, gap windows and the
core's :class:`~gzcharge.locate.joint.FlowBlock` named ``"highway"``) → :func:`solve_highway`
(the tier alone through :func:`gzcharge.locate.joint.solve_joint` on that block and one year)
→ :func:`assess_highway` (layers, sizing and service recomputed from the open sites);
:func:`plan_highway` is the three in one call.

Model
-----
The block is the flow-refuelling model of the numeric core (arc-cover path-cover: a round trip
along a path is *refuelled* when the open sites on it leave no stretch of the cyclic trip
O→D→O longer than the effective range; the rule is :mod:`gzcharge.locate._paths`). Every OD
path is the whole trip, **access legs included**: seat → interchange → corridor → interchange
→ seat (:mod:`gzcharge.highway.traffic`); seats are path ends, never candidates. Additions:

* **Maximum-gap rule** as required covers: every *window* of corridor of length
  ``G = max_gap_km`` must hold an open site. Windows start at every corridor end (node of
  degree 1) and at every candidate, and follow the walks of
  :func:`~gzcharge.highway.corridors.gap_walks`: shortest routes leading away from the start
  along its shortest-route tree, branching at junctions; where an edge leaves the tree the
  loop is closed and driven back to the start, so ring roads are measured around. (Not every
  simple path: their number is exponential on real skeletons with unmerged carriageways and
  ramps; shortest-route walks are ``O(starts × edges within G)`` and equal the simple paths
  on tree-shaped networks.) A walk that reaches a corridor end within ``G`` needs nothing;
  one longer than ``G`` gives the constraint "at least one open candidate among those it
  meets within ``(0, G]``" (implied windows, supersets of others, are dropped). On a
  single corridor these windows are exactly "no stretch between consecutive sites, or
  between a corridor end and its first site, is longer than ``G``"; a site serves both
  carriageways, so the rule holds in each direction. Windows without any candidate cannot be
  met: they are left out of the model and **reported** in :attr:`HighwayResult.unmet_windows`.
  The stretch report (``longest_stretch_km``, ``gap_ok``) uses the same walks on the same
  trees (:func:`~gzcharge.highway.corridors.gap_stretches`), so ``gap_ok`` is false exactly
  where a window is violated. Beyond the safety cap
  :data:`~gzcharge.highway.corridors.GAP_WORK_CAP` the windows raise a named
  :class:`~gzcharge.highway.corridors.GapWorkLimitError` (never a hang) and the report falls
  back to shortest-route stretches with a notice. ``fixed_open`` sites are one-site covers (forced open, counted as new).
* **Modes** (all through the core, objective recomputed from the open sites).
  ``max_flow`` with ``stations`` and/or ``budget_cny``: ``max_service`` with
  ``max_new_sites = stations`` and the budget (a non-binding budget when only ``stations`` is
  given; the core breaks ties by the lower cost). ``max_flow`` with neither: two core solves —
  ``min_cost`` without a flow target gives the cheapest cost ``C*`` of the gap rule; with
  traffic, ``max_service`` with the total budget ``C*`` then picks, among the cheapest plans,
  the one refuelling the most flow. ``min_cost``: cheapest sites meeting the gap rule and
  refuelling ``target_flow_share`` of the flow. OD pairs that no choice of candidates can
  refuel are listed in :attr:`HighwayResult.never_served` (and make ``min_cost`` fail, named,
  when the target needs them).

Sizing (stated assumptions)
---------------------------
* Charging stops: the fewest-stops greedy rule of :func:`gzcharge.locate._paths.refuel_stops`
  (first open site from the origin, then the last one before the range would be exceeded);
  every stop is one session. Round trips per day are half the pair's daily EV flow (the flow
  counts both directions).
* Design-hour arrivals ``λ = sessions/day × holiday_peak_factor × peak_hour_factor`` (the peak
  hour of a holiday peak day); service rate per plug
  ``μ = 60 / session_min`` per hour; Poisson arrivals, exponential service (M/M/c).
* Plugs: the smallest ``c ≥ min_plugs`` (at a service area ``c ≥ ⌈charging_space_share ×
  service_area_car_spaces⌉``, the 2022 action plan's 10 % of small-car spaces) with ``c·μ > λ`` and Erlang-C mean wait
  ``W_q = C(c, λ/μ) / (c·μ − λ) ≤ wait_target_min``. Power = plugs × ``plug_kw``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from gzcharge.errors import DataError, InfeasibleError
from gzcharge.export.i18n import msg
from gzcharge.highway.corridors import (
    CorridorGraph,
    GapWorkLimitError,
    _sort_key,
    edge_key,
    gap_stretches,
    gap_window_sets,
    station_free_stretches,
)
from gzcharge.locate._paths import path_refuelled, path_stops

if TYPE_CHECKING:  # pragma: no cover

    from gzcharge.highway.candidates import CandidateSet
    from gzcharge.highway.params import HighwayParams
    from gzcharge.highway.traffic import Traffic
    from gzcharge.locate.joint import FlowBlock, JointSolution

logger = logging.getLogger(__name__)

__all__ = [
    "HighwayPrepared",
    "HighwayResult",
    "NO_EXPRESSWAY_NOTICE",
    "assess_highway",
    "erlang_c_plugs",
    "gap_windows",
    "plan_highway",
    "prepare_highway",
    "prepare_highway_from",
    "solve_highway",
]

NO_EXPRESSWAY_NOTICE = msg("highway.no_expressways")
_EPS = 1e-6


# ---------------------------------------------------------------------- gap windows
def gap_windows(graph: nx.Graph, candidates: list, max_gap_km: float) -> tuple[list[list], list[dict]]:
    """Windows of the maximum-gap rule: "at least one open candidate" sets.

    Parameters
    ----------
    graph
        Corridor graph (edge ``length_km``).
    candidates
        Candidate nodes.
    max_gap_km
        Window length ``G``.

    Returns
    -------
    windows
        Distinct candidate lists (sorted), one per window that has candidates.
    unmet
        Windows with no candidate: ``start`` node, ``path`` (node list walked), ``reach_km``.
    """
    sets, unmet = gap_window_sets(graph, candidates, max_gap_km=max_gap_km)
    return _minimal_sets([list(w) for w in sets]), unmet


def _minimal_sets(sets: list[list]) -> list[list]:
    """Drop windows that contain another window (they are implied); the rest sorted, shortest first.

    Sets are taken shortest first; a kept set is indexed under one element only, its rarest
    (fewest input sets hold it), so a new set ``S`` is tested against the kept sets indexed under
    an element of ``S`` — every kept subset of ``S`` is among them, and each once.
    """
    from collections import Counter

    nodes = sorted({n for x in sets for n in x}, key=_sort_key)
    rank = {n: i for i, n in enumerate(nodes)}
    ranked = sorted({tuple(sorted(rank[n] for n in set(x))) for x in sets}, key=lambda t: (len(t), t))
    freq = Counter(i for t in ranked for i in t)
    index: dict[int, list[frozenset]] = {}
    out = []
    for t in ranked:
        fs = frozenset(t)
        if any(k <= fs for i in t for k in index.get(i, ())):
            continue
        index.setdefault(min(t, key=lambda i: (freq[i], i)), []).append(fs)
        out.append([nodes[i] for i in t])
    return out


# ---------------------------------------------------------------------- sizing
def erlang_c_wait_min(arrivals_per_h: float, session_min: float, plugs: int) -> float:
    """M/M/c mean wait (minutes) with ``plugs`` servers; ``inf`` when they cannot keep up (c·μ <= λ)."""
    lam = float(arrivals_per_h)
    mu = 60.0 / session_min
    c = int(plugs)
    if lam <= 0:
        return 0.0
    a = lam / mu
    if c <= a:
        return math.inf
    b = 1.0  # Erlang B by the recursion, then Erlang C
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    pw = c * b / (c - a * (1 - b))
    return pw / (c * mu - lam) * 60.0


def erlang_c_plugs(arrivals_per_h: float, session_min: float, wait_target_min: float, min_plugs: int = 1) -> tuple[int, float]:
    """Smallest plug count with M/M/c mean wait ≤ target; returns (plugs, mean wait in minutes)."""
    lam = float(arrivals_per_h)
    mu = 60.0 / session_min
    if lam <= 0:
        return max(1, min_plugs), 0.0
    c = max(min_plugs, int(math.floor(lam / mu)) + 1)
    while True:
        wq_min = erlang_c_wait_min(lam, session_min, c)
        if wq_min <= wait_target_min + 1e-12:
            return c, wq_min
        c += 1


# ---------------------------------------------------------------------- result
@dataclass
class HighwayResult:
    """Outcome of the highway tier.

    Attributes
    ----------
    highway_stations, expressway_segments, od_flows
        GeoDataFrames in EPSG:4326 for export (empty when the tier is skipped). With a
        several-year solution the stations carry ``phase_year`` (build year).
    summary
        DataFrame per corridor component (and ``prefecture`` when known).
    notice
        One-line notice (tier skipped, unmet gap windows, never-served pairs) or None.
    unmet_windows
        Gap windows no candidate can meet (start site/end, corridor path).
    never_served
        OD ids that no set of candidates can refuel with the effective range.
    solution
        The core's :class:`~gzcharge.locate.joint.JointSolution` (None when skipped).
    by_prefecture
        DataFrame per prefecture of the region (corridors are planned on the whole area and
        reported here by prefecture): ``corridor_km`` (length inside it), ``stations``,
        ``new``, ``existing``, ``plugs``, ``kw``, ``cost_cny``, ``longest_stretch_km``,
        ``gap_ok`` (segments assigned by their largest share of length). Custom regions use
        the feature names; parts outside every county are ``"(outside the region)"``.
        Empty without a region.
    skipped
        True when the tier was skipped (no expressway data).
    details
        Model size, times, parameters used; ``corridors``, ``candidates``, ``traffic`` (the
        prepared inputs, for the hydrogen tier).
    """

    highway_stations: Any
    expressway_segments: Any
    od_flows: Any
    summary: Any
    notice: str | None = None
    unmet_windows: list = field(default_factory=list)
    never_served: list = field(default_factory=list)
    solution: Any = None
    details: dict = field(default_factory=dict)
    skipped: bool = False
    by_prefecture: Any = None

    def layers(self) -> dict[str, Any]:
        """``{layer name: GeoDataFrame}`` for the GeoPackage writer."""
        return {
            "highway_stations": self.highway_stations,
            "expressway_segments": self.expressway_segments,
            "od_flows": self.od_flows,
        }


def _empty_result(notice: str) -> HighwayResult:
    return HighwayResult(
        _frame([], STATION_COLUMNS, "EPSG:4326"),
        _frame([], SEGMENT_COLUMNS, "EPSG:4326"),
        _frame([], OD_COLUMNS, "EPSG:4326"),
        pd.DataFrame(),
        notice=notice,
        skipped=True,
        by_prefecture=pd.DataFrame(),
    )


# ---------------------------------------------------------------------- prepared data
@dataclass
class HighwayPrepared:
    """Everything :func:`solve_highway` and :func:`assess_highway` need (from :func:`prepare_highway`).

    Attributes
    ----------
    params
        The ``highway`` section used.
    block
        The core block ``"highway"`` (:class:`~gzcharge.locate.joint.FlowBlock`; its
        ``site_ids`` are the candidates' site ids), or None when the tier is skipped. It carries
        the tier's rules: gap windows and ``fixed_open`` as required covers, ``target_share``
        (``min_cost``), ``max_new_sites`` (``stations``).
    sites
        One row per block site, in block order: ``site_id, name, kind, county_adcode, lon,
        lat`` plus ``node``, ``existing``, ``cost_cny``.
    notes
        Statements for the report.
    candidates, traffic
        The candidate set (its ``corridors`` hold the inserted nodes) and the OD traffic.
    lengths
        Edge lengths of every path (corridor edges and access legs).
    windows, unmet, never
        Gap windows in the model, windows no candidate can meet, OD ids never refuellable.
    areas
        Polygons for the report by prefecture (a region's counties) or None.
    notice
        The skip notice (no expressway data) or None.
    details
        ``rejected_sites`` (service areas not attached), ``components``, ``n_short_trips``.
    """

    params: HighwayParams
    block: FlowBlock | None
    sites: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    candidates: CandidateSet | None = None
    traffic: Traffic | None = None
    lengths: dict = field(default_factory=dict)
    windows: list = field(default_factory=list)
    unmet: list = field(default_factory=list)
    never: list = field(default_factory=list)
    areas: Any = None
    notice: str | None = None
    details: dict = field(default_factory=dict)

    @property
    def skipped(self) -> bool:
        """True without expressway data (no block)."""
        return self.block is None

    @property
    def corridors(self) -> CorridorGraph | None:
        """The corridor graph with candidate and access nodes inserted."""
        return None if self.candidates is None else self.candidates.corridors


SITE_COLUMNS = ["site_id", "name", "kind", "county_adcode", "lon", "lat", "node", "existing", "cost_cny"]


def _site_table(cands: CandidateSet, order: list, areas: Any) -> pd.DataFrame:
    """Block sites (site ids in ``order``) with names, kinds, lon/lat and county adcode."""
    import geopandas as gpd
    import shapely

    G = cands.corridors.graph
    s = cands.sites.loc[order]
    xy = np.array([[G.nodes[n]["x"], G.nodes[n]["y"]] for n in s["node"]], dtype=float).reshape(-1, 2)
    pts = gpd.GeoSeries(shapely.points(xy), crs=cands.corridors.crs).to_crs(4326)
    adcode = np.full(len(s), None, dtype=object)
    if areas is not None and len(areas) and "adcode" in areas.columns and len(s):
        j = gpd.sjoin(gpd.GeoDataFrame(geometry=pts.to_numpy(), crs=4326), areas[["adcode", "geometry"]].to_crs(4326),
                      how="left", predicate="intersects")
        j = j[~j.index.duplicated(keep="first")]
        adcode = j["adcode"].reindex(range(len(s))).astype(object).where(lambda v: v.notna(), None).to_numpy()
    return pd.DataFrame({"site_id": list(s.index), "name": s["name"].to_numpy(), "kind": s["kind"].to_numpy(),
                         "county_adcode": adcode, "lon": pts.x.to_numpy(), "lat": pts.y.to_numpy(),
                         "node": s["node"].to_numpy(), "existing": s["existing"].to_numpy(bool),
                         "cost_cny": s["cost_cny"].to_numpy(float)}, columns=SITE_COLUMNS)


def prepare_highway_from(cands: CandidateSet, traffic: Traffic, params: HighwayParams, *,
                         fixed_open: list | None = None, areas: Any = None, name: str = "highway",
                         notes: list[str] | None = None, details: dict | None = None) -> HighwayPrepared:
    """Gap windows and the core block from a candidate set and traffic (the second half of :func:`prepare_highway`).

    Parameters
    ----------
    cands
        Candidate set (its ``corridors`` carry the inserted nodes).
    traffic
        OD paths (whole trips) on ``cands.corridors`` (may be empty: the gap rule alone decides).
    params
        Highway parameters.
    fixed_open
        Candidate *site ids* forced open (unknown ids raise :class:`DataError`). They count as
        new sites in ``highway.stations`` and their cost counts in the budget.
    areas
        Polygons for reporting by prefecture (a region's ``counties``).
    name
        Block name.
    notes, details
        Carried into the prepared data.
    """
    from gzcharge.locate.joint import FlowBlock

    G = cands.corridors.graph
    sites = cands.sites
    if "tier" in sites.columns:  # planner rows for the hydrogen tier only are no fast-charging sites
        sites = sites[sites["tier"] != "hydrogen"]
    cand_nodes = sites["node"].tolist()
    existing_nodes = sites.loc[sites["existing"], "node"].tolist()
    forced = cands.node_of(list(fixed_open)) if fixed_open else []
    lengths = traffic.edge_lengths(G)
    R = params.effective_range_km
    windows, unmet = gap_windows(G, cand_nodes, params.max_gap_km) if params.enforce_gap else ([], [])
    od = traffic.od
    paths = list(od["path"]) if len(od) else []
    od_ids = od["od_id"].astype(str).tolist() if len(od) else []
    all_open = set(cand_nodes)
    never = [i for i, p in zip(od_ids, paths, strict=True)
             if not path_refuelled(p, lengths, all_open, R, round_trip=params.round_trip)]
    notes = list(notes or [])
    if unmet:
        notes.append(msg("highway.gap_unmet", n=len(unmet), km=params.max_gap_km))
    if never:
        from gzcharge._util import preview_ids

        notes.append(msg("highway.never_served", n=len(never), km=R, ids=preview_ids(never, 5)))
    ex_set = set(existing_nodes)
    covers = [*windows, *([n] for n in dict.fromkeys(forced) if n not in ex_set)]
    node_site = dict(zip(sites["node"], sites.index, strict=True))
    if not cand_nodes:
        # nothing to choose: no service area, no interchange near a town and no stretch longer than the gap
        ok = np.array([path_refuelled(p, lengths, set(), R, round_trip=params.round_trip) for p in paths], bool)
        flows = od["ev_flow"].to_numpy(float) if len(od) else np.zeros(0)
        blk = FlowBlock.without_sites(name, od_ids, flows, ok)
    else:
        if paths:
            core_paths, flows = paths, pd.Series(od["ev_flow"].to_numpy(float), index=pd.Index(od_ids, name="od_id"))
        else:
            # the core needs a path: one zero-flow, one-node path at a candidate adds no flow and, its y
            # being free with no flow target, no constraint on the stations
            core_paths, flows = [[cand_nodes[0]]], pd.Series([0.0], index=pd.Index(["(no traffic)"], name="od_id"))
        node_cost = dict(zip(sites["node"], sites["cost_cny"].astype(float), strict=True))
        blk = FlowBlock.from_paths(name, core_paths, flows, lengths, R, candidates=cand_nodes, existing=existing_nodes,
                                   site_cost=node_cost, required_covers=covers or None, round_trip=params.round_trip)
        blk.site_ids = pd.Index([node_site[n] for n in blk.site_ids], name="site_id")
    # the tier's own rules on the block: the flow target (min_cost) and the station limit (max_flow)
    n_new = int((~np.asarray(blk.existing, bool)).sum())
    total = float(np.sum(blk.flows))
    if params.mode == "min_cost" and total > 0 and params.target_flow_share > 0:
        blk.target_share = [float(params.target_flow_share)]
    if params.mode == "max_flow" and params.stations is None and params.budget_cny is None:
        blk.then_max_service = True
    if params.mode == "max_flow" and params.stations is not None:
        if params.stations > n_new:
            raise DataError(f"highway.stations={params.stations} exceeds the {n_new} new candidate sites; lower it")
        blk.max_new_sites = int(params.stations)
    d = dict(details or {})
    d["forced_nodes"] = list(forced)
    return HighwayPrepared(params=params, block=blk, sites=_site_table(cands, list(blk.site_ids), areas), notes=notes,
                           candidates=cands, traffic=traffic, lengths=lengths, windows=windows, unmet=unmet,
                           never=never, areas=areas, details=d)


# ---------------------------------------------------------------------- solve
def _gap_infeasible(params: HighwayParams, what: str) -> InfeasibleError:
    return InfeasibleError(
        f"the maximum-gap rule (highway.max_gap_km={params.max_gap_km:g}) cannot be met {what}; "
        "raise highway.stations / highway.budget_cny, raise max_gap_km or set highway.enforce_gap=false"
    )


def solve_highway(prep: HighwayPrepared, params: HighwayParams | None = None, *, year: Any = None,
                  time_limit_s: float | None = None, mip_rel_gap: float | None = None,
                  threads: int | None = None) -> JointSolution:
    """The highway tier alone: ``solve_joint([prep.block], years=[year])`` in the mode of ``params``.

    The block carries the tier's own rules (``target_share`` in ``min_cost`` mode,
    ``max_new_sites`` with ``highway.stations``); ``min_cost`` is ``objective="min_cost"``,
    ``max_flow`` with ``stations``/``budget_cny`` is ``objective="max_service"`` with the budget
    (or a non-binding one), ``max_flow`` with neither is the two solves of the module docstring.

    Parameters
    ----------
    prep
        From :func:`prepare_highway`.
    params
        Mode, ``stations``, ``budget_cny``, ``target_flow_share`` (default ``prep.params``).
    year
        Year label of the one-year solve (default ``"plan"``).
    time_limit_s, mip_rel_gap, threads
        Solver options per core solve (default: those of :class:`~gzcharge.scenario.common.SolverParams`).

    Returns
    -------
    JointSolution
        Of the last core solve; ``size["stages"]`` lists every solve, ``size["how"]`` says what
        was solved.

    Raises
    ------
    DataError
        ``highway.stations`` above the number of new candidates; a skipped tier.
    InfeasibleError
        ``min_cost`` target share unreachable (the OD pairs that can never be served are
        named), or the station limit/budget too small for the gap rule.
    """
    from dataclasses import replace

    from gzcharge._util import preview_ids
    from gzcharge.locate.joint import solve_joint

    if prep.block is None:
        raise DataError(prep.notice or NO_EXPRESSWAY_NOTICE)
    params = params or prep.params
    blk = prep.block
    label = "plan" if year is None else year
    from gzcharge.scenario.common import SolverParams

    solver = SolverParams()  # the one [solver] section's defaults when no options are given
    opts = dict(time_limit_s=solver.time_limit_s if time_limit_s is None else time_limit_s,
                mip_rel_gap=solver.mip_rel_gap if mip_rel_gap is None else mip_rel_gap, threads=threads)
    flows = np.asarray(blk.flows, float)
    total = float(flows.sum())
    R = params.effective_range_km
    stages: list[dict] = []

    def run(b: FlowBlock, objective: str, **kw: Any) -> JointSolution:
        sol = solve_joint([b], years=[label], objective=objective, **kw, **opts)
        stages.append({"objective": objective, **{k: v for k, v in kw.items()}, "target_share": b.target_share,
                       "max_new_sites": b.max_new_sites, "status": sol.status, "gap": sol.gap,
                       "objective_value": sol.objective, "seconds": sol.seconds})
        return sol

    if params.mode == "min_cost":
        best = float(flows[~np.asarray(blk.impossible, bool)].sum())
        if total > 0 and best < params.target_flow_share * total * (1 - 1e-12):
            raise InfeasibleError(
                f"highway.target_flow_share={params.target_flow_share:g} cannot be met: even with every candidate "
                f"open only {best / total:.1%} of the EV flow can be refuelled with an effective range of {R:g} km; "
                f"OD pairs that can never be served: {preview_ids(prep.never)} — raise highway.range_km/range_derate, "
                "add candidate sites on those routes or lower target_flow_share",
                unserved=list(prep.never),
            )
        try:
            sol = run(blk, "min_cost")
        except InfeasibleError as exc:
            raise _gap_infeasible(params, "together with the flow target") from exc
        how = f"min_cost: cheapest sites meeting the gap rule and {params.target_flow_share:.0%} of the EV flow"
    elif params.stations is None and params.budget_cny is None:
        # the gap rule decides the cost; with traffic, the flow picks among the cheapest plans (the block's
        # then_max_service: the core's lexicographic min_cost, the same in a one-year joint plan)
        try:
            sol = run(blk, "min_cost")
        except InfeasibleError as exc:
            raise _gap_infeasible(params, "with the candidates given") from exc
        how = "gap rule alone: cheapest sites meeting it"
        if total > 0:
            how = "gap rule first (cheapest sites), then the most refuelled flow at that cost"
    else:
        # only a station count (blk.max_new_sites): a budget that never binds (max_service needs one)
        budget = float(params.budget_cny) if params.budget_cny is not None else float(np.sum(blk.site_cost)) + 1.0
        try:
            sol = run(blk, "max_service", total_budget=budget)
        except InfeasibleError as exc:
            need = solve_joint([replace(blk, max_new_sites=None)], years=[label], objective="min_cost", **opts)
            n_need = int((~need.sites["existing"].astype(bool)).sum())
            raise _gap_infeasible(
                params, f"with highway.stations={params.stations} / highway.budget_cny={params.budget_cny}: "
                f"it needs at least {n_need} new sites costing {need.objective:,.0f} CNY"
            ) from exc
        how = f"max_flow with stations={params.stations}, budget_cny={params.budget_cny}"
    sol.size["stages"] = stages
    sol.size["how"] = how
    return sol


def assess_highway(prep: HighwayPrepared, sol: JointSolution | None, params: HighwayParams | None = None) -> HighwayResult:
    """Layers, sizing and service of the open sites of ``sol`` (block ``prep.block.name``).

    Service (refuelled flags, sessions) is recomputed from the chosen sites by the direct rule
    of :mod:`gzcharge.locate._paths`, never read from model variables. With several years in
    ``sol``, stations carry ``phase_year`` (their build year).
    """
    if prep.block is None:
        return _empty_result(prep.notice or NO_EXPRESSWAY_NOTICE)
    params = params or prep.params
    t0 = time.perf_counter()
    cands = prep.candidates
    mine = sol.sites[sol.sites["block"] == prep.block.name] if sol is not None and len(sol.sites) else pd.DataFrame(
        columns=["site_id", "build_year"])
    node_of = dict(zip(prep.sites["site_id"], prep.sites["node"], strict=True))
    open_nodes = {node_of[s] for s in mine["site_id"]}
    years = [] if sol is None else list(dict.fromkeys(sol.service["year"]))
    out = _assemble(cands.corridors, cands, prep.traffic, params, open_nodes, prep.lengths, prep.windows, prep.unmet,
                    prep.never, prep.areas)
    if len(years) > 1:
        by = dict(zip(mine["site_id"], mine["build_year"], strict=True))
        out.highway_stations["phase_year"] = pd.array(
            [None if by.get(s) is None or pd.isna(by.get(s)) else int(by[s]) for s in out.highway_stations["site_id"]],
            dtype="Int64")
    notes = [n for n in [*prep.notes, out.details.get("stretch_note")] if n]
    out.notice = (notes[0] if len(notes) == 1 else msg("notes.joined", items=notes)) if notes else None
    out.solution = sol
    station_cost = float(prep.sites.loc[prep.sites["site_id"].isin(mine["site_id"]) & ~prep.sites["existing"],
                                        "cost_cny"].sum())
    out.details.update(
        {
            "how": None if sol is None else sol.size.get("how"),
            "n_candidates": len(prep.sites),
            "n_existing": int(prep.sites["existing"].sum()),
            "n_fixed_open": len(prep.details.get("forced_nodes", [])),
            "n_paths": len(prep.traffic.od),
            "n_windows": len(prep.windows),
            "n_arc_sets": len(prep.block.set_path),
            "solve_s": None if sol is None else sol.seconds,
            "assess_s": time.perf_counter() - t0,
            "status": "no_candidates" if len(prep.sites) == 0 else (None if sol is None else sol.status),
            "gap": None if sol is None else sol.gap,
            "stages": [] if sol is None else sol.size.get("stages", []),
            "station_cost_cny": station_cost,
            "rejected_sites": prep.details.get("rejected_sites"),
            "components": prep.details.get("components"),
            "corridors": cands.corridors,
            "candidates": cands,
            "traffic": prep.traffic,
        }
    )
    return out


def _km_posts(cg: CorridorGraph) -> dict:
    """Km post of each node along its segment (distance from the segment's first node)."""
    G = cg.graph
    post: dict = {}
    segs: dict = {}
    for u, v, d in G.edges(data=True):
        segs.setdefault(d["segment"], []).append((u, v))
    for s, es in segs.items():
        H = nx.Graph()
        H.add_edges_from((u, v, {"length_km": G.edges[u, v]["length_km"]}) for u, v in es)
        ends = sorted(n for n in H.nodes if H.degree(n) == 1) or sorted(H.nodes)
        dist = nx.single_source_dijkstra_path_length(H, ends[0], weight="length_km")
        for n, dd in dist.items():
            post.setdefault(n, (s, dd))
    return post


STATION_COLUMNS = ["site_id", "name", "kind", "corridor", "segment", "km_post", "plugs", "kw", "status",
                   "sessions_per_day", "peak_arrivals_per_h", "mean_wait_min", "cost_cny", "prefecture"]
SEGMENT_COLUMNS = ["segment", "component", "ref", "name", "length_km", "longest_stretch_km", "gap_ok", "covered",
                   "refuelled_flow", "stations", "prefecture"]
OD_COLUMNS = ["od_id", "origin", "destination", "volume", "ev_volume", "refuelled", "never_servable", "length_km"]
OUTSIDE = "(outside the region)"


def _frame(rows: list[dict], cols: list[str], crs: Any):
    """GeoDataFrame with exactly ``cols`` + geometry (also when ``rows`` is empty)."""
    import geopandas as gpd
    import pandas as pd

    df = pd.DataFrame(rows, columns=[*cols, "geometry"])
    return gpd.GeoDataFrame(df[cols], geometry=gpd.GeoSeries(df["geometry"].tolist(), crs=crs), crs=crs)


def _sessions(od, lengths: dict, open_nodes: set, params: HighwayParams) -> tuple[np.ndarray, dict]:
    """Refuelled flag per OD row and charging sessions per day per open node.

    The OD flow counts both directions. Round trip: ``flow / 2`` round trips a day, each with
    the stops of :func:`gzcharge.locate._paths.path_stops`. One way: ``flow / 2`` trips in each
    direction, stops of each direction's path.
    """
    R = params.effective_range_km
    sessions: dict = {}
    ok = np.zeros(len(od), dtype=bool)
    for i, (pth, f) in enumerate(zip(od["path"], od["ev_flow"], strict=True)):
        ok[i] = path_refuelled(pth, lengths, open_nodes, R, round_trip=params.round_trip)
        if not ok[i]:
            continue
        trips = [pth] if params.round_trip else [pth, pth[::-1]]
        for t in trips:
            for n, _km in path_stops(t, lengths, open_nodes, R, round_trip=params.round_trip):
                sessions[n] = sessions.get(n, 0.0) + float(f) / 2.0
    return ok, sessions


def _areas_frame(areas: Any) -> Any:
    """Polygons with a ``prefecture`` label (from a region's counties), or None."""
    if areas is None or len(areas) == 0:
        return None
    a = areas.to_crs(4326)
    if "prefecture" in a.columns:
        lab = a["prefecture"].astype(object)
        fallback = a["name"] if "name" in a.columns else a.index.astype(str)
        lab = lab.where(lab.notna(), fallback)
    else:
        lab = a["name"] if "name" in a.columns else a.index.astype(str)
    out = a[["geometry"]].copy()
    out["prefecture"] = lab.astype(str).to_numpy()
    return out.dissolve("prefecture", as_index=False)


def _by_prefecture(stations, segs, areas, metric_crs) -> Any:
    """Prefecture per station (point in polygon) and per segment (largest share of length); km per prefecture."""
    import geopandas as gpd
    import pandas as pd

    if areas is None:
        stations["prefecture"] = None
        segs["prefecture"] = None
        return pd.DataFrame()
    am = areas.to_crs(metric_crs)
    if len(stations):
        j = gpd.sjoin(stations[["geometry"]].to_crs(metric_crs), am, how="left", predicate="intersects")
        j = j[~j.index.duplicated(keep="first")]
        stations["prefecture"] = j["prefecture"].reindex(stations.index).fillna(OUTSIDE).to_numpy()
    else:
        stations["prefecture"] = pd.Series([], dtype=object)
    km = pd.DataFrame(columns=["segment", "prefecture", "km"])
    if len(segs):
        sm = segs[["segment", "geometry"]].to_crs(metric_crs)
        ov = gpd.overlay(sm, am, how="intersection", keep_geom_type=True)
        ov["km"] = ov.geometry.length / 1000.0
        km = ov.groupby(["segment", "prefecture"], as_index=False)["km"].sum()
        inside = km.groupby("segment")["km"].sum()
        out_km = (segs.set_index("segment")["length_km"] - inside.reindex(segs["segment"]).fillna(0.0).to_numpy())
        rest = out_km[out_km > 1e-3]
        km = pd.concat([km, pd.DataFrame({"segment": rest.index, "prefecture": OUTSIDE, "km": rest.to_numpy()})])
        major = km.sort_values(["segment", "km"], ascending=[True, False]).drop_duplicates("segment")
        segs["prefecture"] = segs["segment"].map(dict(zip(major["segment"], major["prefecture"], strict=True)))
    else:
        segs["prefecture"] = pd.Series([], dtype=object)
    names = sorted(set(areas["prefecture"]) | set(km["prefecture"]) | set(stations["prefecture"].dropna()))
    rows = []
    for p in names:
        st = stations[stations["prefecture"] == p]
        sg = segs[segs["prefecture"] == p]
        rows.append({
            "prefecture": p,
            "corridor_km": float(km.loc[km["prefecture"] == p, "km"].sum()),
            "stations": len(st),
            "new": int(st["status"].isin(["new", "synthetic"]).sum()),
            "existing": int((st["status"] == "existing").sum()),
            "plugs": int(st["plugs"].sum()),
            "kw": float(st["kw"].sum()),
            "cost_cny": float(st.loc[st["status"] != "existing", "cost_cny"].sum()),
            "longest_stretch_km": float(sg["longest_stretch_km"].max()) if len(sg) else 0.0,
            "gap_ok": bool(sg["gap_ok"].all()) if len(sg) else True,
        })
    df = pd.DataFrame(rows)
    return df[(df["corridor_km"] > 0) | (df["stations"] > 0)].reset_index(drop=True)


def _assemble(cg, cands, traffic, params, open_nodes, lengths, windows, unmet, never, areas=None) -> HighwayResult:
    import pandas as pd
    import shapely

    G = cg.graph
    od = traffic.od
    R = params.effective_range_km
    refuelled, sessions = _sessions(od, lengths, open_nodes, params)
    # flow through each edge by refuelled paths
    edge_flow: dict = {}
    for pth, f, ok in zip(od["path"], od["ev_flow"], refuelled, strict=True):
        if ok:
            for u, v in zip(pth[:-1], pth[1:], strict=True):
                if not G.has_edge(u, v):
                    continue  # an access leg
                k = edge_key(u, v)
                edge_flow[k] = edge_flow.get(k, 0.0) + float(f)
    posts = _km_posts(cg)
    seg_ref = {}
    for _u, _v, d in G.edges(data=True):
        seg_ref.setdefault(d["segment"], d.get("ref"))
    # stations
    node_site = {n: sid for sid, n in zip(cands.sites.index, cands.sites["node"], strict=True)}
    st_rows = []
    capped: list[str] = []
    for n in sorted(open_nodes):
        sid = node_site.get(n, f"node-{n}")
        row = cands.sites.loc[sid] if sid in cands.sites.index else None
        lam = sessions.get(n, 0.0) * params.holiday_peak_factor * params.peak_hour_factor
        fewest = params.min_plugs
        if row is not None and row["kind"] == "service_area":  # 2022 action plan: >= 10 % of small-car spaces
            fewest = max(fewest, math.ceil(params.charging_space_share * params.service_area_car_spaces - 1e-9))
        plugs, wq = erlang_c_plugs(lam, params.session_min, params.wait_target_min, fewest)
        cap = row.get("max_plugs", np.nan) if row is not None else np.nan
        if np.isfinite(cap) and plugs > cap:  # a planner's site holds at most its file's plugs
            plugs, wq = int(cap), erlang_c_wait_min(lam, params.session_min, int(cap))
            capped.append(f"{sid} ({int(cap)} plugs, mean wait {wq:.1f} min)")
        seg, km = posts.get(n, (-1, float("nan")))
        status = "existing" if (row is not None and row["existing"]) else ("synthetic" if (row is not None and row["synthetic"]) else "new")
        st_rows.append(
            {
                "site_id": sid,
                "name": None if row is None else row["name"],
                "kind": None if row is None else row["kind"],
                "corridor": seg_ref.get(seg) or f"segment {seg}",
                "segment": seg,
                "km_post": km,
                "plugs": plugs,
                "kw": plugs * params.plug_kw,
                "status": status,
                "sessions_per_day": sessions.get(n, 0.0),
                "peak_arrivals_per_h": lam,
                "mean_wait_min": wq,
                "cost_cny": 0.0 if row is None else float(row["cost_cny"]),
                "prefecture": None,
                "geometry": shapely.Point(G.nodes[n]["x"], G.nodes[n]["y"]),
            }
        )
    stations = _frame(st_rows, STATION_COLUMNS, cg.crs)
    # segments with stretch analysis
    stretch_note = None
    try:
        per_edge = gap_stretches(G, open_nodes, starts=cands.sites["node"].tolist(), max_gap_km=params.max_gap_km)
    except GapWorkLimitError as exc:
        # a graph beyond the safety cap: report shortest-route stretches rather than hang
        per_edge, _ = station_free_stretches(G, open_nodes)
        stretch_note = msg("highway.stretch_shortest", error=str(exc))
        logger.warning("%s", stretch_note)
    seg_gdf = cg.segments_frame()
    seg_longest: dict = {}
    seg_flow: dict = {}
    for u, v, d in G.edges(data=True):
        k = edge_key(u, v)
        s = d["segment"]
        seg_longest[s] = max(seg_longest.get(s, 0.0), per_edge.get(k, 0.0))
        seg_flow[s] = max(seg_flow.get(s, 0.0), edge_flow.get(k, 0.0))
    seg_gdf["longest_stretch_km"] = seg_gdf["segment"].map(seg_longest).astype(float)
    seg_gdf["gap_ok"] = seg_gdf["longest_stretch_km"] <= params.max_gap_km + _EPS
    seg_gdf["covered"] = seg_gdf["gap_ok"]
    seg_gdf["refuelled_flow"] = seg_gdf["segment"].map(seg_flow).fillna(0.0).astype(float)
    counts = stations["segment"].value_counts()
    seg_gdf["stations"] = seg_gdf["segment"].map(counts).fillna(0).astype(int)
    seg_gdf["prefecture"] = None
    seg_gdf = seg_gdf[[*SEGMENT_COLUMNS, "geometry"]]
    # od flows
    od_rows = []
    never_set = set(never)
    for i, r in enumerate(od.itertuples()):
        line = shapely.LineString([traffic.node_xy(G, n) for n in r.path]) if len(r.path) > 1 else None
        od_rows.append({"od_id": r.od_id, "origin": r.origin, "destination": r.destination, "volume": r.flow,
                        "ev_volume": r.ev_flow, "refuelled": bool(refuelled[i]), "never_servable": r.od_id in never_set,
                        "length_km": r.length_km, "geometry": line})
    odg = _frame(od_rows, OD_COLUMNS, cg.crs)
    # per prefecture (spatial join with the region's counties)
    by_pref = _by_prefecture(stations, seg_gdf, _areas_frame(areas), cg.crs)
    # summary per component
    seg_comp = dict(zip(seg_gdf["segment"], seg_gdf["component"], strict=True))
    summ = []
    for c in cg.components:
        segs = seg_gdf[seg_gdf["component"] == c["component"]]
        st = stations[stations["segment"].map(seg_comp) == c["component"]]
        summ.append({"component": c["component"], "refs": ";".join(c["refs"][:5]), "length_km": c["length_km"],
                     "stations": len(st), "new": int((st["status"] != "existing").sum()),
                     "plugs": int(st["plugs"].sum()),
                     "longest_stretch_km": float(segs["longest_stretch_km"].max()) if len(segs) else 0.0,
                     "gap_ok": bool(segs["gap_ok"].all()) if len(segs) else True})
    total = float(od["ev_flow"].sum()) if len(od) else 0.0
    ref_flow = float(od.loc[refuelled, "ev_flow"].sum()) if len(od) else 0.0
    result = HighwayResult(
        stations.to_crs(4326), seg_gdf.to_crs(4326), odg.to_crs(4326), pd.DataFrame(summ),
        unmet_windows=unmet, never_served=never, by_prefecture=by_pref,
    )
    result.details.update({"stretch_note": stretch_note, "total_ev_flow": total, "refuelled_ev_flow": ref_flow,
                           "refuelled_share": ref_flow / total if total > 0 else float("nan"),
                           "effective_range_km": R, "capped_plugs": capped})
    return result


# ---------------------------------------------------------------------- entry point
def county_seat_points(region: Any) -> Any:
    """OD points of the gravity model: every county seat weighted by its county's 2020 census population.

    The prefecture seat is not a separate point: it sits at the seat of its district, whose
    county population already counts (adding it would double that district's weight).
    """
    import pandas as pd

    s = region.settlements
    seats = s[s["kind"] == "county_seat"].drop_duplicates("settlement_id").copy()
    counties = region.counties
    if {"adcode", "pop_total"} <= set(counties.columns) and "county_adcode" in seats.columns:
        pop = counties.set_index(counties["adcode"].astype(str))["pop_total"]
        county_pop = pd.to_numeric(seats["county_adcode"].astype(str).map(pop), errors="coerce")
        own = pd.to_numeric(seats["population"], errors="coerce") if "population" in seats.columns else county_pop * float("nan")
        # the county's census total where known (a seat's own figure is only its city core)
        seats["population"] = county_pop.fillna(own).to_numpy()
    return seats


def prepare_highway(
    params: HighwayParams,
    *,
    region: Any = None,
    network: Any = None,
    osm_file: str | Path | None = None,
    expressways: str | Path | Any = None,
    service_areas: str | Path | Any = None,
    existing_sites: str | Path | Any = None,
    od_file: str | Path | None = None,
    settlements: Any = None,
    fixed_open: list | None = None,
    user_sites: Any = None,
    user_label: str = "candidate-sites file",
) -> HighwayPrepared:
    """Corridors, candidates, traffic, gap windows and the core block of the highway tier.

    Expressway sources, in order: ``expressways`` (user line layer path or GeoDataFrame),
    ``network`` (a :class:`~gzcharge.network.RoadNetwork`; its expressway edges), ``osm_file``
    (read with :func:`gzcharge.sources.osm.graph_from_file` inside the region polygon). With none
    of them, the tier is skipped (``block`` None, ``notice`` :data:`NO_EXPRESSWAY_NOTICE`) —
    corridors are never invented.

    Parameters
    ----------
    params
        The scenario's ``highway`` section.
    region
        :class:`~gzcharge.region.Region` (its county seats and census populations give the
        gravity OD; its boundary clips OSM; its counties the report by prefecture).
    network, osm_file, expressways
        Expressway sources (see above).
    service_areas
        CSV path (``name, lon, lat[, existing]``) or point GeoDataFrame; default with an OSM
        file: its ``highway=services|rest_area`` POIs.
    existing_sites
        Existing fast-charging sites (CSV path or points), fixed open.
    od_file
        User OD CSV (``origin, destination, flow``) replacing the gravity model.
    settlements
        OD points overriding the region's county seats (``settlement_id``, ``name``,
        ``population``).
    fixed_open
        Candidate site ids forced open.
    user_sites, user_label
        Rows of a candidate-sites file for the highway/hydrogen tiers and the file's name:
        snapped to the corridor (:func:`gzcharge.highway.candidates.build_candidates`).

    Notes
    -----
    OD pairs whose whole trip (corridor and both access legs) is at most
    ``min_charging_trip_km`` (default half the effective range: the round trip fits one home
    charge) are left out of the traffic.
    """
    from gzcharge.highway.candidates import build_candidates, read_sites_csv, service_areas_from_osm
    from gzcharge.highway.corridors import (
        build_corridors,
        corridor_lines_from_osmnx,
        corridors_from_file,
    )
    from gzcharge.highway.traffic import build_traffic, read_od_csv

    def skipped() -> HighwayPrepared:
        return HighwayPrepared(params=params, block=None, sites=pd.DataFrame(columns=SITE_COLUMNS),
                               notes=[NO_EXPRESSWAY_NOTICE], notice=NO_EXPRESSWAY_NOTICE)

    poly = getattr(region, "boundary", None)
    cg = None
    gateways = None
    if expressways is not None:
        if isinstance(expressways, (str, Path)):
            cg = corridors_from_file(expressways, endpoint_snap_m=params.endpoint_snap_m, carriageway_merge_m=0.0,
                                     interchange_merge_m=params.interchange_merge_m)
        else:
            cg = build_corridors(expressways, endpoint_snap_m=params.endpoint_snap_m, carriageway_merge_m=0.0,
                                 interchange_merge_m=params.interchange_merge_m, source="expressways")
    else:
        lines = None
        if network is not None:
            lines = corridor_lines_from_osmnx(network.expressway_graph())
            lines = lines.set_crs(network.crs, allow_override=True)
        elif osm_file is not None:
            from gzcharge.network import build_network

            if poly is None:
                raise DataError("an OSM file needs a region (--prefecture or --boundary) to clip it to")
            network = build_network(poly, crs=getattr(region, "metric_crs", None), osm_file=str(osm_file))
            lines = corridor_lines_from_osmnx(network.expressway_graph()).set_crs(network.crs, allow_override=True)
        if (lines is None or len(lines) == 0) and params.road_skeleton == "auto" and poly is not None:
            # offline default: the built-in OSM trunk-road skeleton (scgraph_data, ODbL)
            from gzcharge.highway.skeleton import skeleton_corridors

            cg, gateways = skeleton_corridors(region, params)
            if cg is None:
                return skipped()
        elif lines is None or len(lines) == 0:
            return skipped()
        else:
            cg = build_corridors(lines, endpoint_snap_m=params.endpoint_snap_m,
                                 interchange_merge_m=params.interchange_merge_m,
                                 carriageway_merge_m=params.carriageway_merge_m, source=str(osm_file or "road network"))
    if cg.graph.number_of_edges() == 0:
        return skipped()
    on_skeleton = gateways is not None

    # service areas: user file/points, else the OSM file the corridors came from
    src_file = osm_file
    if src_file is None and network is not None and expressways is None:
        s = str(network.meta.get("source") or "")
        src_file = s if s.endswith((".osm", ".pbf", ".bz2")) and Path(s).exists() else None
    if isinstance(service_areas, (str, Path)):
        sa = read_sites_csv(service_areas)
    elif service_areas is None and src_file is not None and poly is not None:
        sa = service_areas_from_osm(src_file, poly)
    else:
        sa = service_areas
    ex = read_sites_csv(existing_sites) if isinstance(existing_sites, (str, Path)) else existing_sites
    pts = settlements
    if pts is None and region is not None:
        pts = county_seat_points(region)
    cand_params = params
    notes: list[str] = []
    if on_skeleton:
        from gzcharge.sources.builtin import TRUNK_ROADS_LABEL

        cand_params = params.model_copy(update={"candidate_snap_m": params.skeleton_snap_m})
        sa = merge_site_pairs(sa, params.service_area_pair_m, cg.crs)
        notes.append(msg("highway.skeleton", label=TRUNK_ROADS_LABEL, km=cg.length_km, gateways=len(gateways),
                         vehicles=params.gateway_daily_vehicles))
    snap_name = "highway.skeleton_snap_m" if on_skeleton else "highway.candidate_snap_m"
    cands = build_candidates(cg, cand_params, service_areas=sa, existing=ex, settlements=pts, user_sites=user_sites,
                             user_label=user_label, snap_name=snap_name)
    od = read_od_csv(od_file) if od_file is not None else None
    traffic = build_traffic(cands.corridors, params, pts, od=od, gateways=gateways)
    short_km = params.min_charging_trip_km if params.min_charging_trip_km is not None else params.effective_range_km / 2
    n_short = 0
    if len(traffic.od):
        trip_km = traffic.od["length_km"] + traffic.od["access_km"].fillna(0.0)
        short = trip_km <= short_km
        n_short = int(short.sum())
        if short.any():
            logger.info("%d OD path(s) up to %g km need no highway charging (round trip on one home charge)",
                        n_short, short_km)
            traffic.od = traffic.od.loc[~short].reset_index(drop=True)
    details = {"rejected_sites": cands.rejected, "n_short_trips": n_short, "snap_m": cand_params.candidate_snap_m,
               "snap_name": snap_name,
               "road_source": cg.source, "gateways": gateways,
               "components": [{k: v for k, v in c.items() if k != "nodes"} for c in cg.components]}
    fixed = list(fixed_open or [])
    sa_ids = cands.sites.index[cands.sites["kind"] == "service_area"].tolist()
    if params.all_service_areas and sa_ids:
        if params.stations is None and params.budget_cny is None:
            fixed += [i for i in sa_ids if i not in fixed]
            notes.append(msg("highway.all_service_areas", n=len(sa_ids)))
        else:
            notes.append(msg("highway.service_areas_chosen"))
    return prepare_highway_from(cands, traffic, params, fixed_open=fixed or None,
                                areas=getattr(region, "counties", None), notes=notes, details=details)


def merge_site_pairs(sites: Any, pair_m: float, crs: Any) -> Any:
    """One row per group of site points closer than ``pair_m`` (single linkage), at the group's mean position.

    The two sides of an expressway service area are two points 50–300 m apart; on a skeleton that
    has one line for both carriageways they are one site. The first row of a group keeps its
    attributes (name, ``existing``: true when any member is).
    """
    if sites is None or len(sites) == 0 or pair_m <= 0:
        return sites
    import geopandas as gpd
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pm = sites.to_crs(crs)
    xy = shapely.get_coordinates(pm.geometry.values)
    pairs = cKDTree(xy).query_pairs(pair_m, output_type="ndarray")
    n = len(xy)
    _, lab = connected_components(coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)),
                                  directed=False)
    cnt = np.bincount(lab)
    mx, my = np.bincount(lab, weights=xy[:, 0]) / cnt, np.bincount(lab, weights=xy[:, 1]) / cnt
    first = pd.Series(np.arange(n)).groupby(lab).min().to_numpy()
    out = pm.iloc[first].copy()
    if "existing" in out.columns:
        out["existing"] = pd.Series(pm["existing"].astype(bool).to_numpy()).groupby(lab).any().to_numpy()
    out = out.set_geometry(gpd.points_from_xy(mx, my, crs=crs))
    return out.reset_index(drop=True).to_crs(sites.crs)


def plan_highway(params: HighwayParams, **inputs: Any) -> HighwayResult:
    """Plan the highway fast-charging tier in one call: ``assess(prepare(...), solve(...))``.

    Keyword arguments are those of :func:`prepare_highway`; solver options are the defaults of
    the scenario's one ``[solver]`` section (:class:`~gzcharge.scenario.common.SolverParams`).
    """
    prep = prepare_highway(params, **inputs)
    if prep.skipped:
        return assess_highway(prep, None)
    return assess_highway(prep, solve_highway(prep))
